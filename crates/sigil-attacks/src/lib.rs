//! sigil's attack suite lives in `tests/`, one file per area and one test per attack, each
//! citing the advisory or issue it comes from. This library is empty on purpose.
