# Sourced (bash) by the scripts that build from Debian's packages (image.sh, disk-image.sh, firmware.sh).
#
# deb_unpack DEBS PACKAGE VERSION DIR: PACKAGE at VERSION, taken from the folder DEBS when a .deb of that
# version is there, else fetched into it with `apt-get download` (no root needed), unpacked with
# `dpkg-deb -x` into DIR. Sets `deb` to the .deb's path. Uses the caller's say and die.
deb_unpack() {
  local debs="$1" package="$2" version="$3" into="$4" pattern apt_options=(-qq)
  # As root, apt downloads as user _apt, who cannot write to a folder root made: it warns and falls
  # back to root anyway. Saying so up front keeps the output clean.
  if [ "$(id -u)" = 0 ]; then
    apt_options+=(-o APT::Sandbox::User=root)
  fi
  # apt-get download names the file package_version_arch.deb, with the epoch's ':' as %3a.
  pattern="${package}_${version//:/%3a}_*.deb"
  deb="$(compgen -G "$debs/$pattern" | head -n 1 || true)"
  if [ -z "$deb" ]; then
    say "downloading $package $version"
    (cd "$debs" && apt-get download "${apt_options[@]}" "$package=$version") ||
      die "apt-get download $package=$version failed"
    deb="$(compgen -G "$debs/$pattern" | head -n 1 || true)"
    [ -n "$deb" ] || die "apt-get download left no $pattern in $debs"
  fi
  mkdir -p "$into"
  if ! dpkg-deb -x "$deb" "$into"; then
    # Most likely a download cut short: the next run fetches it again.
    rm -f "$deb"
    die "cannot unpack $deb (removed it; run again to download it anew)"
  fi
}
