# Sourced by the scripts here. `quiet CMD ARGS...` runs a command with its stderr kept aside (the
# Gazelle/GALA security warnings, progress bars) and shows it only when the command fails.
# Needs QUIET_ERR: a file path for the kept stderr.
quiet() {
  if ! "$@" 2>"$QUIET_ERR"; then
    cat "$QUIET_ERR" >&2
    echo "command failed: $*" >&2
    return 1
  fi
}
