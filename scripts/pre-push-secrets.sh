#!/bin/sh
# Secret scan of the commits a push sends (.husky/pre-push): reads git's pre-push lines
# "<local ref> <local sha> <remote ref> <remote sha>" on stdin and runs gitleaks on each range.
# Uses gitleaks from PATH, else the newest one the test set-up built (scripts/lib.sh); without
# either it says so and passes: CI's secret-scan job runs gitleaks on the whole history anyway.
# Exit 1 when gitleaks finds a secret.

cache_dir="${PARLEY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/parley}"
gitleaks="$(command -v gitleaks 2>/dev/null)"
if [ -z "$gitleaks" ]; then
  gitleaks="$(for f in "$cache_dir"/bin/gitleaks-*; do [ -x "$f" ] && printf '%s\n' "$f"; done |
    sort -V | tail -n 1)"
fi
if [ -z "$gitleaks" ] || [ ! -x "$gitleaks" ]; then
  echo "pre-push: gitleaks not found, commits not scanned for secrets (CI will)" >&2
  exit 0
fi

status=0
while read -r local_ref local_sha remote_ref remote_sha; do
  [ -n "$local_sha" ] || continue
  # All zeros: a deletion (local) or a new branch or tag (remote).
  case "$local_sha" in *[!0]*) ;; *) continue ;; esac
  case "$remote_sha" in
    *[!0]*)
      if git cat-file -e "$remote_sha^{commit}" 2>/dev/null; then
        range="$remote_sha..$local_sha"
      else
        range="$local_sha --not --remotes" # the remote's tip is not here (a forced push)
      fi
      ;;
    *) range="$local_sha --not --remotes" ;;
  esac
  echo "pre-push: scanning $local_ref -> $remote_ref for secrets" >&2
  "$gitleaks" git --no-banner --redact --verbose --log-opts="$range" . || status=1
done

if [ "$status" -ne 0 ]; then
  echo "pre-push: gitleaks found secrets in the commits being pushed; remove them from history" >&2
fi
exit "$status"
