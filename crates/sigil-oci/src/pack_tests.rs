//! Unit tests of `pack`: reproducibility, tar entry normalisation, hostile destinations,
//! config merging.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use super::*;

fn tree() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("server"), b"#!/bin/sh\necho hi\n").unwrap();
    std::fs::create_dir_all(d.path().join("www/css")).unwrap();
    std::fs::write(d.path().join("www/index.html"), b"<p>hi</p>").unwrap();
    std::fs::write(d.path().join("www/css/a.css"), b"p{}").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(
            d.path().join("server"),
            std::fs::Permissions::from_mode(0o700),
        )
        .unwrap();
        std::os::unix::fs::symlink("index.html", d.path().join("www/home.html")).unwrap();
    }
    d
}

fn files(d: &Path) -> Vec<PackFile> {
    vec![
        PackFile::parse(&format!("{}:/server", d.join("server").display())).unwrap(),
        PackFile::parse(&format!("{}:/srv/www", d.join("www").display())).unwrap(),
    ]
}

fn entries(layer: &Layer) -> Vec<(String, u32, u64, u64)> {
    let gz = flate2::read::GzDecoder::new(&layer.data[..]);
    let mut a = tar::Archive::new(gz);
    a.entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let h = e.header();
            (
                e.path().unwrap().display().to_string(),
                h.mode().unwrap(),
                h.uid().unwrap(),
                h.mtime().unwrap(),
            )
        })
        .collect()
}

#[test]
fn same_inputs_same_digest_across_copies_and_times() {
    let a = tree();
    let b = tree();
    // Different source paths, different mtimes and owners on disk: same layer.
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(b.path().join("www/css/a.css"), b"p{}").unwrap();
    let la = build_layer(&files(a.path()), 1_700_000_000).unwrap();
    let lb = build_layer(&files(b.path()), 1_700_000_000).unwrap();
    assert_eq!(la.descriptor.digest, lb.descriptor.digest);
    assert_eq!(la.diff_id, lb.diff_id);
    let s = ImageSettings {
        entrypoint: Some(vec!["/server".into()]),
        expose: vec!["8080".into()],
        epoch: 1_700_000_000,
        architecture: "amd64".into(),
        os: "linux".into(),
        ..ImageSettings::default()
    };
    let ia = build_image(&s, None, &la).unwrap();
    let ib = build_image(&s, None, &lb).unwrap();
    assert_eq!(ia.digest, ib.digest);
    // A different epoch is a different image.
    let lc = build_layer(&files(a.path()), 0).unwrap();
    assert_ne!(la.diff_id, lc.diff_id);
}

#[test]
fn entries_are_sorted_normalised_and_dated() {
    let a = tree();
    let layer = build_layer(&files(a.path()), 42).unwrap();
    let got = entries(&layer);
    let names: Vec<&str> = got.iter().map(|e| e.0.as_str()).collect();
    let mut want = vec![
        "server",
        "srv/",
        "srv/www/",
        "srv/www/css/",
        "srv/www/css/a.css",
        "srv/www/index.html",
    ];
    if cfg!(unix) {
        want.push("srv/www/home.html");
        want.sort();
    }
    assert_eq!(names, want);
    for (name, mode, uid, mtime) in &got {
        assert_eq!((*uid, *mtime), (0, 42), "{name}");
        let expected = if name.ends_with('/') || name == "server" {
            0o755
        } else if name.ends_with("home.html") {
            0o777
        } else {
            0o644
        };
        assert_eq!(*mode, expected, "{name}");
    }
}

#[test]
fn hostile_destinations_are_refused() {
    let a = tree();
    let src = a.path().join("server");
    for dest in ["../etc/passwd", "/../../x", "/usr/../../x", "a/./../../b"] {
        let f = PackFile::parse(&format!("{}:{dest}", src.display())).unwrap();
        let err = build_layer(&[f], 0).unwrap_err();
        assert!(
            matches!(err, PackError::DestEscapes { .. }),
            "{dest}: {err}"
        );
        assert!(err.to_string().contains("leaves the image's root"));
    }
    // `/` is a directory (the file lands at `/server`); `/.` names the root itself.
    let f = PackFile::parse(&format!("{}:/", src.display())).unwrap();
    assert_eq!(entries(&build_layer(&[f], 0).unwrap())[0].0, "server");
    let f = PackFile::parse(&format!("{}:/.", src.display())).unwrap();
    assert!(matches!(
        build_layer(&[f], 0).unwrap_err(),
        PackError::DestIsRoot { .. }
    ));
    assert!(PackFile::parse(":/x").is_err());
    assert!(PackFile::parse("x:").is_err());
}

#[test]
fn missing_source_and_conflicts_are_named() {
    let a = tree();
    let missing = PackFile::parse("/nonexistent/sigil-pack-test:/x").unwrap();
    let err = build_layer(&[missing], 0).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/sigil-pack-test"));
    let one = PackFile::parse(&format!("{}:/x", a.path().join("server").display())).unwrap();
    let two = PackFile::parse(&format!("{}:/x/y", a.path().join("server").display())).unwrap();
    let err = build_layer(&[one.clone(), one.clone()], 0).unwrap_err();
    assert!(matches!(err, PackError::Conflict { .. }), "{err}");
    let err = build_layer(&[one, two], 0).unwrap_err();
    assert!(matches!(err, PackError::Conflict { .. }), "{err}");
    assert!(matches!(build_layer(&[], 0), Err(PackError::NoFiles)));
}

#[test]
fn base_config_is_merged_like_a_dockerfile() {
    let a = tree();
    let layer = build_layer(&files(a.path()), 0).unwrap();
    let base_layer = Descriptor::for_bytes(media_types::DOCKER_LAYER_GZIP, b"base");
    let base = BaseImage {
        image: "127.0.0.1:5000/base:1".parse().unwrap(),
        layers: vec![base_layer.clone()],
        config: json!({
            "architecture": "arm64", "os": "linux",
            "config": {"Env": ["PATH=/bin", "A=1"], "Cmd": ["/bin/sh"], "ExposedPorts": {"22/tcp": {}}},
            "rootfs": {"type": "layers", "diff_ids": ["sha256:0000000000000000000000000000000000000000000000000000000000000000"]},
            "history": [{"created_by": "base"}]
        }),
    };
    let s = ImageSettings {
        entrypoint: Some(vec!["/server".into()]),
        env: vec![("A".into(), "2".into()), ("B".into(), "3".into())],
        expose: vec!["8080".into(), "53/udp".into()],
        epoch: 0,
        architecture: "amd64".into(),
        os: "linux".into(),
        ..ImageSettings::default()
    };
    let built = build_image(&s, Some(&base), &layer).unwrap();
    let c: Value = serde_json::from_slice(&built.config).unwrap();
    assert_eq!(c["architecture"], "arm64");
    assert_eq!(c["config"]["Env"], json!(["PATH=/bin", "A=2", "B=3"]));
    assert_eq!(c["config"]["Entrypoint"], json!(["/server"]));
    assert!(c["config"].get("Cmd").is_none());
    assert_eq!(
        c["config"]["ExposedPorts"],
        json!({"22/tcp": {}, "53/udp": {}, "8080/tcp": {}})
    );
    assert_eq!(c["rootfs"]["diff_ids"].as_array().unwrap().len(), 2);
    assert_eq!(c["history"].as_array().unwrap().len(), 2);
    assert_eq!(c["created"], "1970-01-01T00:00:00Z");
    assert_eq!(built.layers[0].digest, base_layer.digest);
    assert_eq!(built.layers[0].media_type, media_types::OCI_LAYER_GZIP);
    let bad = ImageSettings {
        expose: vec!["http".into()],
        ..s
    };
    assert!(matches!(
        build_image(&bad, Some(&base), &layer),
        Err(PackError::Port { .. })
    ));
}
