#!/usr/bin/env bash
# Checks that a newcomer on a fresh Debian 12 machine gets through the README:
# builds a minimal Debian 12 (bookworm) root with debootstrap, puts this
# repository's committed HEAD in it, and runs there what the README says.
#
#   sudo scripts/fresh-machine-check.sh [STEP...]
#
# Steps (default: all, in this order):
#   create    debootstrap --variant=minbase bookworm (a few minutes; replaces
#             an earlier root)
#   clone     this repository's HEAD (committed changes only) as /root/pythreading
#   demo      scripts/demo.sh                                   (README)
#   test      scripts/test.sh: plain, ThreadSanitizer, ASan+UBSan (README)
#   consumer  the README's C++ install into /opt/pythreading (not the configured
#             prefix), then a CMake find_package consumer and a pkg-config one
#   python    the README's Python install: scripts/setup.sh python as root, then
#             `pip install .` into a virtual environment as an ordinary user
#   quick     = create clone demo
# Each step runs in the root with an empty environment (env -i), from a login
# shell's PATH, and is timed; its log is in $FRESH_DIR/logs/STEP.log and the
# times are summarised at the end (and in $FRESH_DIR/logs/summary.txt).
#
# Environment: FRESH_DIR (default /var/tmp/pythreading-fresh: root/ and logs/),
# MIRROR (default http://deb.debian.org/debian). Needs root, debootstrap and
# the network. /proc, /sys, /dev, /dev/pts and /dev/shm are mounted into the
# root for the steps and unmounted when the script exits, however it exits.
# A full run takes about 40 minutes on 2 cores.
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
FRESH_DIR=${FRESH_DIR:-/var/tmp/pythreading-fresh}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
root=$FRESH_DIR/root
logs=$FRESH_DIR/logs

steps=()
for s in "${@:-create clone demo test consumer python}"; do
  for t in $s; do
    case $t in
      quick) steps+=(create clone demo) ;;
      create | clone | demo | test | consumer | python) steps+=("$t") ;;
      *) echo "fresh-machine-check: unknown step '$t'" >&2; exit 2 ;;
    esac
  done
done
[ "$(id -u)" -eq 0 ] || { echo "fresh-machine-check: must run as root (chroot, mounts)" >&2; exit 2; }
command -v debootstrap >/dev/null || { echo "fresh-machine-check: needs debootstrap (apt-get install debootstrap)" >&2; exit 2; }
mkdir -p "$logs"
: >"$logs/summary.txt"
note() { echo "fresh-machine-check: $*" | tee -a "$logs/summary.txt"; }

# --- mounts: every one recorded, all undone on exit ----------------------------
mounted=()
mount_one() { # mount_one TARGET MOUNT-ARGS...
  local target=$1
  shift
  mountpoint -q "$target" && return 0
  mount "$@" "$target" && mounted+=("$target")
}
mount_all() {
  mount_one "$root/proc" -t proc proc &&
    mount_one "$root/sys" -t sysfs sysfs &&
    mount_one "$root/dev" --bind /dev &&
    mount_one "$root/dev/pts" --bind /dev/pts &&
    mount_one "$root/dev/shm" -t tmpfs -o mode=1777 shm
}
umount_all() {
  local i m
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    umount "${mounted[i]}" 2>/dev/null || umount -l "${mounted[i]}"
  done
  mounted=()
  # Left over from an interrupted earlier run: deepest first.
  while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m"
  done < <(awk -v r="$root/" 'index($2, r) == 1 {print $2}' /proc/self/mounts | sort -r)
}
trap umount_all EXIT
trap 'exit 130' INT TERM

# --- running inside -----------------------------------------------------------
# in_root NAME USER SCRIPT: runs SCRIPT with bash -e in the root as USER, from
# their home directory, with a clean environment; logs and times it.
failed=()
in_root() {
  local name=$1 user=$2 script=$3 start rc home=/root
  [ "$user" = root ] || home=/home/$user
  start=$SECONDS
  chroot "$root" /usr/bin/env -i HOME="$home" USER="$user" LOGNAME="$user" TERM=dumb \
    LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    runuser -u "$user" -- /bin/bash -ec "cd && set -x && $script" >"$logs/$name.log" 2>&1
  rc=$?
  note "$(printf '%-8s %-6s %5d s   (log: %s)' "$name" "$([ $rc = 0 ] && echo ok || echo FAILED)" \
    $((SECONDS - start)) "$logs/$name.log")"
  ((rc == 0)) || failed+=("$name")
  return $rc
}

step_create() {
  local start=$SECONDS
  umount_all
  if awk -v r="$root/" 'index($2, r) == 1 {found = 1} END {exit !found}' /proc/self/mounts; then
    note "something is still mounted under $root; not removing it"
    return 1
  fi
  rm -rf --one-file-system "$root"
  mkdir -p "$root"
  if ! debootstrap --variant=minbase bookworm "$root" "$MIRROR" >"$logs/create.log" 2>&1; then
    note "create   FAILED (log: $logs/create.log)"
    failed+=(create)
    return 1
  fi
  cat >"$root/etc/apt/sources.list" <<EOF
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
EOF
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  chroot "$root" useradd -m -s /bin/bash newcomer
  note "$(printf '%-8s %-6s %5d s   (debootstrap --variant=minbase bookworm)' create ok $((SECONDS - start)))"
}

# The repository's committed HEAD, as `git clone` would give it; cloned from
# the host, as the minimal root has no git.
step_clone() {
  local dest=$root/root/pythreading head
  head=$(git -C "$repo" rev-parse HEAD)
  rm -rf "$dest"
  git clone --quiet --no-checkout "$repo" "$dest" && git -C "$dest" checkout --quiet --detach "$head" || {
    note "clone    FAILED"
    failed+=(clone)
    return 1
  }
  note "clone    ok       $(git -C "$dest" log --oneline -1)"
}

step_demo() { in_root demo root 'cd pythreading && scripts/demo.sh'; }
step_test() { in_root test root 'cd pythreading && scripts/test.sh'; }

# The README's "Use it from C++" commands, with a prefix other than the default.
step_consumer() {
  mkdir -p "$root/root/app"
  cp "$root/root/pythreading/examples/quickstart.cpp" "$root/root/app/app.cpp"
  cat >"$root/root/app/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.25)
project(app LANGUAGES CXX)
find_package(pythreading REQUIRED)
add_executable(app app.cpp)
target_link_libraries(app PRIVATE pythreading::pythreading)
EOF
  in_root consumer root '
rm -rf /opt/pythreading app/build app/app-pc
cd pythreading
scripts/setup.sh demo
cmake -S . -B build -G Ninja -DPYTHREADING_BUILD_TESTS=OFF
cmake --build build
cmake --install build --prefix /opt/pythreading
cd ../app
cmake -S . -B build -G Ninja -DCMAKE_PREFIX_PATH=/opt/pythreading
cmake --build build
./build/app
apt-get install -y -qq --no-install-recommends pkgconf >/dev/null
export PKG_CONFIG_PATH=/opt/pythreading/lib/pkgconfig
g++ -std=c++20 app.cpp -o app-pc $(pkg-config --cflags --libs pythreading)
./app-pc'
}

# The README's Python install: packages as root, then pip as an ordinary user.
step_python() {
  in_root python-setup root 'cd pythreading && scripts/setup.sh python' || return 1
  rm -rf "$root/home/newcomer/pythreading"
  cp -a "$root/root/pythreading" "$root/home/newcomer/pythreading"
  rm -rf "$root"/home/newcomer/pythreading/build*
  chroot "$root" chown -R newcomer: /home/newcomer/pythreading
  in_root python newcomer '
rm -rf ~/.venvs/pt
cd pythreading
python3 -m venv ~/.venvs/pt && ~/.venvs/pt/bin/pip install .
cd
~/.venvs/pt/bin/python -c "
import pythreading as threading
lock = threading.Lock(); ev = threading.Event(); out = []
t = threading.Thread(target=lambda: (ev.wait(5.0), out.append(threading.current_thread().name)), name=\"w\")
t.start()
with lock: ev.set()
t.join(5.0); assert out == [\"w\"], out
print(\"ok:\", threading.__file__)"'
}

total=$SECONDS
for s in "${steps[@]}"; do
  if [ "$s" != create ]; then
    [ -x "$root/bin/bash" ] || { note "no root at $root: run the create step first"; exit 1; }
    [ "$s" = clone ] || mount_all || { note "mounting into $root failed"; exit 1; }
  fi
  "step_$s"
done
umount_all
note "steps: ${steps[*]}; failed: ${failed[*]:-none}; total $((SECONDS - total)) s"
exit $((${#failed[@]} > 0))
