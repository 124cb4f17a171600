//! Rekor client (being written by the transparency log's owner).
