//! Package metadata as the catalogers read it from a layer: dpkg status, apk installed, rpm
//! databases (sqlite and Berkeley DB), Python METADATA/PKG-INFO, npm package.json and lock
//! files, Java archives, Go and cargo-auditable binaries, os-release. The first byte picks the
//! path the rest is stored at.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sigil_fuzz::sbom::{scan_layers, small_limits, tar_of};

const PATHS: [&str; 14] = [
    "var/lib/dpkg/status",
    "var/lib/dpkg/status.d/pkg",
    "lib/apk/db/installed",
    "var/lib/rpm/rpmdb.sqlite",
    "var/lib/rpm/Packages",
    "var/lib/rpm/Packages.db",
    "usr/lib/python3/dist-packages/pkg-1.0.dist-info/METADATA",
    "usr/lib/python3/site-packages/pkg.egg-info",
    "app/node_modules/pkg/package.json",
    "app/package-lock.json",
    "app/lib/app.jar",
    "usr/local/bin/app",
    "etc/os-release",
    "usr/share/doc/pkg/copyright",
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, content)) = data.split_first() else {
        return;
    };
    let path = PATHS[usize::from(selector) % PATHS.len()];
    let mut files = vec![(path, content)];
    // The dpkg copyright and os-release readers run beside a status file.
    if path.starts_with("usr/share/doc") {
        files.push((
            "var/lib/dpkg/status",
            b"Package: pkg\nStatus: install ok installed\nVersion: 1\n",
        ));
    }
    let _ = scan_layers(vec![tar_of(&files)], small_limits());
});
