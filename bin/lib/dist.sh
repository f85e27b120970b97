# Sourced by every bin/* wrapper (after it sets $root, "<repository>/bin/.."):
# `run_dist FILE [NODE_FLAGS...] -- ARGS...`
# runs the compiled command dist/FILE (scripts/build.mjs: NAME.cjs for the client commands,
# NAME.mjs for the others) with node, in place of the shell, so the command's pid is the
# wrapper's.
#
# In a checkout (scripts/build.mjs is there) it first makes sure that the dependencies are
# installed (one line saying what to run, exit 3, instead of Node's stack trace) and that dist/
# is current: every file the last build read (dist/.build-inputs) still exists and none is
# newer than that list, whose mtime is the build's start. Otherwise it rebuilds (about 1 s),
# so a source edit never runs stale code. The check is bash built-ins only (no extra process).
# In an installed package (npm pack / npm install: dist/ is shipped, the sources are not) it
# runs dist/ as it is.
run_dist() {
  root=${root%/bin/..}
  local file=$1 name=${1%.*} flags=() f stamp="$root/dist/.build-inputs"
  shift
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do flags+=("$1"); shift; done
  shift
  if [ -f "$root/scripts/build.mjs" ]; then
    if [ ! -f "$root/node_modules/.package-lock.json" ]; then
      echo "$name: dependencies are not installed in $root; run \`npm install\` there (or \`npm start\`)" >&2
      exit 3
    fi
    local current=1
    if [ -f "$stamp" ] && [ -f "$root/dist/$file" ]; then
      while IFS= read -r f; do
        if [ ! -e "$root/$f" ] || [ "$root/$f" -nt "$stamp" ]; then current=0; break; fi
      done <"$stamp"
    else
      current=0
    fi
    if [ $current = 0 ]; then node "$root/scripts/build.mjs" --quiet || exit 3; fi
  elif [ ! -f "$root/dist/$file" ]; then
    echo "$name: $root/dist/$file is missing: this copy was packed without its build (npm pack builds it)" >&2
    exit 3
  fi
  exec node "${flags[@]}" "$root/dist/$file" "$@"
}
