#!/bin/sh
# Packs the staging root that `make deb` installed (PREFIX=/usr) into
# OUTDIR/fieldsync_VERSION_ARCH.deb, doing what debhelper would: strip the
# programs, compress man pages and large docs, add copyright and changelog,
# compute Depends from the libraries the programs link (dpkg-shlibdeps),
# write DEBIAN/control (dpkg-gencontrol) and md5sums, and build with
# root:root ownership (no fakeroot needed).  Prints the package's path.
#
# Usage: packaging/debian/build-deb.sh WORKDIR VERSION OUTDIR
#   WORKDIR/debian/fieldsync is the staging root; WORKDIR/debian gets the
#   control files dpkg-gencontrol reads.
set -eu

[ $# -eq 3 ] || { echo "usage: $0 WORKDIR VERSION OUTDIR" >&2; exit 2; }
work=$1 version=$2 outdir=$3
src=$(cd "$(dirname "$0")" && pwd)
root=$work/debian/fieldsync
doc=$root/usr/share/doc/fieldsync

# The package version is the Makefile's; the changelog must have its entry.
clv=$(dpkg-parsechangelog -l "$src/changelog" -SVersion)
if [ "$clv" != "$version" ]; then
    echo "deb: packaging/debian/changelog's latest entry is $clv, the Makefile's VERSION is $version;" \
         "add an entry (dch -v $version)" >&2
    exit 1
fi
# Reproducible: every mtime in the package is the changelog entry's date.
SOURCE_DATE_EPOCH=$(dpkg-parsechangelog -l "$src/changelog" -STimestamp)
export SOURCE_DATE_EPOCH

for f in "$root"/usr/bin/*; do
    strip --strip-unneeded --remove-section=.comment --remove-section=.note "$f"
done
gzip -9nf "$root"/usr/share/man/man*/*
# Debian policy 12.3: documentation over 4 KiB is compressed, examples not.
find "$doc" -maxdepth 1 -type f -size +4k -exec gzip -9nf {} +
# A native package (no Debian revision) has changelog.gz, not changelog.Debian.gz.
gzip -9nc "$src/changelog" >"$doc/changelog.gz"
cp "$src/copyright" "$doc/copyright"

find "$root" -type d -exec chmod 0755 {} +
find "$root" -type f -exec chmod 0644 {} +
chmod 0755 "$root"/usr/bin/*

cp "$src/control" "$src/changelog" "$work/debian/"
rm -f "$work/debian/files" "$work/debian/fieldsync.substvars"
mkdir -p "$root/DEBIAN"
(
    cd "$work"
    dpkg-shlibdeps -Tdebian/fieldsync.substvars debian/fieldsync/usr/bin/*
    dpkg-gencontrol -pfieldsync -Pdebian/fieldsync -Tdebian/fieldsync.substvars -Vmisc:Depends=
)
[ -s "$root/DEBIAN/control" ] || { echo "deb: dpkg-gencontrol wrote no control file" >&2; exit 1; }
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\n' | LC_ALL=C sort |
    xargs -d '\n' md5sum) >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums"

arch=$(dpkg --print-architecture)
deb=$outdir/fieldsync_${version}_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
