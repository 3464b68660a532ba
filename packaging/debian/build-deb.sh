#!/bin/sh
# Splits the staging root that `make deb` installed (PREFIX=/usr) into the
# two binary packages and packs each, doing what debhelper would: move each
# package's files into its own root (dh_install), strip the programs,
# compress man pages and large docs, add copyright and changelog, add the
# maintainer scripts, compute Depends from the libraries the programs link
# (dpkg-shlibdeps), write DEBIAN/control (dpkg-gencontrol) and md5sums, and
# build with root:root ownership (no fakeroot needed).  Prints the path of
# each package, one a line.
#
#   OUTDIR/fieldsync_VERSION_ARCH.deb      the daemon, the CLI, the user unit
#   OUTDIR/fieldsync-sim_VERSION_ARCH.deb  the remote API's stand-in, apart:
#                                          a fleet's laptops need no simulator
#
# Usage: packaging/debian/build-deb.sh WORKDIR VERSION OUTDIR
#   WORKDIR/debian/tmp is the staging root (make install DESTDIR=); the
#   packages' roots and the control files dpkg-gencontrol reads go beside it
#   in WORKDIR/debian.
set -eu

[ $# -eq 3 ] || { echo "usage: $0 WORKDIR VERSION OUTDIR" >&2; exit 2; }
work=$1 version=$2 outdir=$3
src=$(cd "$(dirname "$0")" && pwd)
tmp=$work/debian/tmp

# What goes into fieldsync-sim, as STAGED[:PACKAGED] paths; everything else
# the staging root holds is fieldsync's.  SIM.md moves to the sim's own
# doc directory (Debian policy 12.3: /usr/share/doc/PACKAGE).
sim_files="usr/bin/fieldsync-sim usr/share/man/man1/fieldsync-sim.1
usr/share/doc/fieldsync/SIM.md:usr/share/doc/fieldsync-sim/SIM.md"

# The package version is the Makefile's; the changelog must have its entry.
clv=$(dpkg-parsechangelog -l "$src/changelog" -SVersion)
if [ "$clv" != "$version" ]; then
    echo "deb: packaging/debian/changelog's latest entry is $clv, the Makefile's VERSION is $version;" \
         "add an entry (dch -v $version)" >&2
    exit 1
fi
# Reproducible: every mtime in the packages is the changelog entry's date.
SOURCE_DATE_EPOCH=$(dpkg-parsechangelog -l "$src/changelog" -STimestamp)
export SOURCE_DATE_EPOCH

rm -rf "$work/debian/fieldsync" "$work/debian/fieldsync-sim"
for entry in $sim_files; do
    from=${entry%%:*} to=${entry#*:}
    mkdir -p "$work/debian/fieldsync-sim/$(dirname "$to")"
    mv "$tmp/$from" "$work/debian/fieldsync-sim/$to"
done
mv "$tmp" "$work/debian/fieldsync"

cp "$src/control" "$src/changelog" "$work/debian/"
rm -f "$work/debian/files"
arch=$(dpkg --print-architecture)

# pack PACKAGE: finishes $work/debian/PACKAGE and builds its .deb.
pack() {
    pkg=$1 root=$work/debian/$1
    doc=$root/usr/share/doc/$1

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

    mkdir -p "$root/DEBIAN"
    for script in preinst postinst prerm postrm; do
        if [ -f "$src/$pkg.$script" ]; then
            cp "$src/$pkg.$script" "$root/DEBIAN/$script"
            chmod 0755 "$root/DEBIAN/$script"
        fi
    done
    rm -f "$work/debian/$pkg.substvars"
    (
        cd "$work"
        dpkg-shlibdeps -Tdebian/"$pkg".substvars debian/"$pkg"/usr/bin/*
        dpkg-gencontrol -p"$pkg" -Pdebian/"$pkg" -Tdebian/"$pkg".substvars -Vmisc:Depends=
    )
    [ -s "$root/DEBIAN/control" ] || { echo "deb: dpkg-gencontrol wrote no control file for $pkg" >&2; exit 1; }
    (cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\n' | LC_ALL=C sort |
        xargs -d '\n' md5sum) >"$root/DEBIAN/md5sums"
    chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums"

    deb=$outdir/${pkg}_${version}_$arch.deb
    dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
    echo "$deb"
}

pack fieldsync
pack fieldsync-sim
