#!/usr/bin/env bash
# Generates crates/sigil-sbom/testdata/rpm/var/lib/rpm/rpmdb.sqlite: a real rpm (sqlite
# backend) database holding two small packages built here with rpmbuild.
#   needs: apt-get install rpm   (rpm 4.18, whose default database backend is sqlite)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
dest="$here/crates/sigil-sbom/testdata/rpm/var/lib/rpm"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkspec() { # name version release epoch license vendor
  cat > "$tmp/$1.spec" <<SPEC
Name: $1
Version: $2
Release: $3
${4:+Epoch: $4}
License: $5
Vendor: $6
URL: https://example.com/$1
Summary: sigil rpm test package $1
BuildArch: noarch
%description
Test package for sigil's rpm cataloger.
%files
SPEC
  rpmbuild --quiet --define "_topdir $tmp/build" --define "dist .el9" -bb "$tmp/$1.spec"
}
mkspec sigil-hello 1.2.3 4.el9 2 "MIT" "Sigil Test"
mkspec sigil-tools 0.9 1.el9 "" "GPL-2.0-or-later AND MIT" "Sigil Test"
rpm --dbpath "$tmp/db" --define '_db_backend sqlite' --initdb
rpm --dbpath "$tmp/db" --define '_db_backend sqlite' -i --justdb --nodeps --noscripts --ignorearch "$tmp"/build/RPMS/noarch/*.rpm
mkdir -p "$dest"
cp "$tmp/db/rpmdb.sqlite" "$dest/rpmdb.sqlite"
mkdir -p "$dest/../../../etc"
printf 'NAME="Rocky Linux"\nVERSION="9.4 (Blue Onyx)"\nID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.4"\nPRETTY_NAME="Rocky Linux 9.4 (Blue Onyx)"\n' > "$dest/../../../etc/os-release"
echo "wrote $dest/rpmdb.sqlite" >&2
