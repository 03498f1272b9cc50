#!/usr/bin/env bash
# Install, upgrade or uninstall watchd as a systemd service on Debian or Ubuntu.
#
#   sudo deploy/install.sh [--email USER@EXAMPLE.COM] [--api-key-file FILE] [--no-start]
#   sudo deploy/install.sh --uninstall [--purge]
#
# It creates the system user "watchd", a virtual environment in /opt/watchd,
# /etc/watchd/watchd.yaml and /etc/watchd/folders.d/ from commented examples
# (an existing config is never overwritten), the API key file
# /etc/watchd/api_key (mode 600), the systemd unit and a logrotate rule, then
# enables and starts the service. Run it again to upgrade in place: config,
# key and database are kept. --uninstall keeps config and data unless --purge.
#
# --root DIR installs into DIR instead of / (for tests and image building);
# systemctl is then only used offline (enable), never to start anything.
# Where systemd is not PID 1 (a container, an image build, WSL) it does the
# same: the unit is enabled offline and a note says how to start watchd.
#
# The service's venv is built from /usr/bin/python3 when that is 3.11 or
# newer, else from $PYTHON (default: python3 on the PATH); before it reports
# success, the installer checks that the watchd user can run `watchd --version`.
set -euo pipefail

SOURCE=$(cd "$(dirname "$0")/.." && pwd)
ROOT=""
EMAIL=""
KEY_FILE=""
START=1
ACTION=install
PURGE=0
SYSTEMCTL=${SYSTEMCTL:-systemctl}
PYTHON=${PYTHON:-python3}
SYSTEM_PYTHON=${SYSTEM_PYTHON:-/usr/bin/python3}  # preferred: root's PATH may lead into /root
SYSTEMD_RUN_DIR=${SYSTEMD_RUN_DIR:-/run/systemd/system}  # exists when systemd is PID 1
USER_NAME=watchd

usage() { sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
say() { printf 'watchd install: %s\n' "$*"; }
die() { printf 'watchd install: error: %s\n' "$*" >&2; exit 1; }

while [ $# -gt 0 ]; do
    case "$1" in
        --root) ROOT=${2:?--root needs a directory}; shift ;;
        --email) EMAIL=${2:?--email needs an address}; shift ;;
        --api-key-file) KEY_FILE=${2:?--api-key-file needs a file}; shift ;;
        --no-start) START=0 ;;
        --uninstall) ACTION=uninstall ;;
        --purge) PURGE=1 ;;
        -h|--help) usage 0 ;;
        *) printf 'unknown option: %s\n\n' "$1" >&2; usage 2 ;;
    esac
    shift
done

ROOT=${ROOT%/}
OPT="$ROOT/opt/watchd"
ETC="$ROOT/etc/watchd"
STATE="$ROOT/var/lib/watchd"
LOGS="$ROOT/var/log/watchd"
UNIT="$ROOT/etc/systemd/system/watchd.service"
LOGROTATE="$ROOT/etc/logrotate.d/watchd"

[ -n "$ROOT" ] || [ "$(id -u)" -eq 0 ] || die "run as root (sudo $0 ...)"
[ -z "$ROOT" ] || mkdir -p "$ROOT/etc"

systemctl_do() {  # systemctl, offline (--root) when installing into a directory
    if [ -n "$ROOT" ]; then
        "$SYSTEMCTL" --root="$ROOT" "$@"
    else
        "$SYSTEMCTL" "$@"
    fi
}

systemd_running() {  # systemd is PID 1 here and we install into / (sd_booted's test)
    [ -z "$ROOT" ] && [ -d "$SYSTEMD_RUN_DIR" ]
}

# systemctl that may fail without stopping the install: on failure, say what to do.
systemctl_or_note() {  # systemctl_or_note "WHAT TO RUN LATER" ARGS...
    local later=$1 output
    shift
    if ! output=$(systemctl_do "$@" 2>&1); then
        say "note: systemctl $* did not work here (${output%%$'\n'*}); $later"
        return 1
    fi
}

id_of() {  # uid or gid of the watchd user/group inside ROOT (field 3 of passwd/group)
    awk -F: -v n="$USER_NAME" '$1 == n { print $3 }' "$ROOT/etc/$1"
}

# Install FILE with MODE and OWNER (user:group names resolved inside ROOT);
# an identical file is left alone, so a second run changes nothing.
put() {
    local mode=$1 owner=$2 source=$3 target=$4
    cmp -s "$source" "$target" 2>/dev/null || install -m "$mode" "$source" "$target"
    chmod "$mode" "$target"
    own "$owner" "$target"
}

own() {
    local owner=$1 target=$2 uid gid
    case "$owner" in
        root) uid=0; gid=0 ;;
        root:watchd) uid=0; gid=$(id_of group) ;;
        watchd) uid=$(id_of passwd); gid=$(id_of group) ;;
    esac
    chown "$uid:$gid" "$target"
}

make_dir() {  # make_dir MODE OWNER DIR
    mkdir -p "$3"
    chmod "$1" "$3"
    own "$2" "$3"
}

ensure_user() {
    if [ -n "$(id_of passwd 2>/dev/null)" ]; then
        return
    fi
    say "creating system user $USER_NAME"
    local args=(--system --user-group --home-dir /var/lib/watchd --no-create-home
                --shell /usr/sbin/nologin --comment "watchd ingest daemon")
    [ -z "$ROOT" ] || args+=(--root "$ROOT")
    useradd "${args[@]}" "$USER_NAME" 2>&1 | grep -v "missing or non-executable shell" || true
    [ -n "$(id_of passwd)" ] || die "could not create the user $USER_NAME"
}

python_ok() {  # python_ok PYTHON: it runs and is 3.11 or newer
    "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null
}

ensure_python() {
    if python_ok "$SYSTEM_PYTHON"; then
        PYTHON=$SYSTEM_PYTHON
    else
        python_ok "$PYTHON" \
            || die "watchd needs Python 3.11 or newer: $SYSTEM_PYTHON is older or missing, and so is $PYTHON (set PYTHON=...)"
        say "$SYSTEM_PYTHON is older than 3.11 or missing: building the venv from $PYTHON"
    fi
    if ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then
        [ -z "$ROOT" ] || die "$PYTHON cannot create virtual environments (install python3-venv)"
        say "installing python3-venv"
        apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
    fi
}

source_stamp() {  # what is being installed: the package version and a hash of its files
    (cd "$SOURCE" && { cat pyproject.toml; find watchd migrations -name '*.py' -o -name '*.yaml' -o -name '*.mako' \
        | LC_ALL=C sort | xargs cat; } | sha256sum | cut -c1-16)
}

as_service_user() {  # run a command as the watchd user (its ids as inside ROOT)
    local uid gid
    uid=$(id_of passwd)
    gid=$(id_of group)
    if command -v setpriv >/dev/null 2>&1; then
        env -i PATH=/usr/bin:/bin HOME=/ setpriv --reuid="$uid" --regid="$gid" --clear-groups -- "$@"
    else
        env -i PATH=/usr/bin:/bin HOME=/ runuser -u "$USER_NAME" -- "$@"
    fi
}

service_user_can_run() {  # the watchd user can start the venv's interpreter
    as_service_user "$OPT/venv/bin/python" -c 'import json, sqlite3' >/dev/null 2>&1
}

install_venv() {
    local stamp
    stamp=$(source_stamp)
    if [ -x "$OPT/venv/bin/python" ] && ! service_user_can_run; then
        say "the $USER_NAME user cannot run $OPT/venv/bin/python ($(readlink -f "$OPT/venv/bin/python")): rebuilding the venv"
        rm -rf "$OPT/venv" "$OPT/.installed"
    fi
    if [ -x "$OPT/venv/bin/watchd" ] && [ "$(cat "$OPT/.installed" 2>/dev/null)" = "$stamp" ]; then
        say "watchd in $OPT is up to date"
        return
    fi
    make_dir 0755 root "$OPT"
    [ -x "$OPT/venv/bin/python" ] || "$PYTHON" -m venv "$OPT/venv"
    if ! service_user_can_run; then
        local target
        target=$(readlink -f "$OPT/venv/bin/python")
        rm -rf "$OPT/venv"
        die "the $USER_NAME user cannot run the venv's interpreter $target (built from $PYTHON; under a home folder such as /root?); install python3 (3.11 or newer) in /usr/bin, or give one every user can run: PYTHON=/usr/local/bin/python3.12 $0 ..."
    fi
    say "installing watchd into $OPT/venv (pip; this takes a minute)"
    "$OPT/venv/bin/python" -m pip install -q --upgrade pip >/dev/null
    "$OPT/venv/bin/python" -m pip install -q --upgrade "$SOURCE" >/dev/null
    put 0644 root "$SOURCE/README.md" "$OPT/README.md"
    echo "$stamp" > "$OPT/.installed"
}

link_command() {  # /usr/local/bin/watchd, so operators can type just "watchd"
    mkdir -p "$ROOT/usr/local/bin"
    [ "$(readlink "$ROOT/usr/local/bin/watchd" 2>/dev/null)" = /opt/watchd/venv/bin/watchd ] \
        || ln -sfn /opt/watchd/venv/bin/watchd "$ROOT/usr/local/bin/watchd"
}

install_config() {
    make_dir 0750 root:watchd "$ETC"
    make_dir 0750 root:watchd "$ETC/folders.d"
    if [ ! -e "$ETC/watchd.yaml" ]; then
        local temp
        temp=$(mktemp)
        sed "s|email: ingest@example.com |email: ${EMAIL:-ingest@example.com} |" \
            "$SOURCE/deploy/examples/watchd.yaml" > "$temp"
        put 0640 root:watchd "$temp" "$ETC/watchd.yaml"
        rm -f "$temp"
        say "wrote $ETC/watchd.yaml (edit flowcapture.email if needed)"
    elif [ -n "$EMAIL" ]; then
        say "kept the existing $ETC/watchd.yaml (--email not applied to it)"
    fi
    local example
    for example in "$SOURCE"/deploy/examples/folders.d/*.example; do
        [ -e "$ETC/folders.d/$(basename "$example")" ] \
            || put 0640 root:watchd "$example" "$ETC/folders.d/$(basename "$example")"
    done
}

install_key() {
    local key="$ETC/api_key"
    if [ -n "$KEY_FILE" ]; then
        [ -s "$KEY_FILE" ] || die "$KEY_FILE is empty or missing"
        put 0600 root "$KEY_FILE" "$key"
        say "API key installed in $key (mode 600)"
    elif [ ! -e "$key" ] && [ -t 0 ]; then
        local entered
        read -r -s -p "Flow Capture API key (input hidden, Enter to skip): " entered
        echo
        if [ -n "$entered" ]; then
            (umask 077 && printf '%s\n' "$entered" > "$key")
            own root "$key"
            say "API key saved in $key (mode 600)"
        fi
    fi
    if [ ! -e "$key" ]; then
        say "no API key yet: put it in $key (chmod 600) before starting the service"
        START=0
    else
        chmod 0600 "$key"
        own root "$key"
    fi
}

check_service_user_runs_watchd() {
    local output
    output=$(as_service_user "$OPT/venv/bin/watchd" --version 2>&1) \
        || die "the $USER_NAME user cannot run $OPT/venv/bin/watchd --version: $output"
    say "checked as the $USER_NAME user: $output"
}

install_service() {
    make_dir 0750 watchd "$STATE"
    make_dir 0750 watchd "$LOGS"
    mkdir -p "$(dirname "$UNIT")" "$(dirname "$LOGROTATE")"
    put 0644 root "$SOURCE/systemd/watchd.service" "$UNIT"
    put 0644 root "$SOURCE/deploy/logrotate/watchd" "$LOGROTATE"
    if ! systemd_running; then  # a directory, or systemd not PID 1: offline enable only
        systemctl_or_note "enable it once systemd runs: sudo systemctl enable --now watchd" \
            enable watchd.service || true
        if [ -n "$ROOT" ]; then
            say "installed, not started: sudo systemctl start watchd"
        else
            say "installed, not started: systemd is not running here (not PID 1); start it" \
                "with sudo systemctl start watchd once it is, or run it in the foreground:" \
                "sudo -u $USER_NAME /opt/watchd/venv/bin/watchd run"
        fi
        return
    fi
    systemctl_do daemon-reload
    systemctl_do enable watchd.service >/dev/null 2>&1 || systemctl_do enable watchd.service
    if [ "$START" -eq 1 ]; then
        systemctl_do restart watchd.service
        say "watchd is running: systemctl status watchd; sudo watchd status"
    else
        say "installed, not started: sudo systemctl start watchd"
    fi
}

uninstall() {
    if systemd_running; then
        systemctl_do disable --now watchd.service 2>/dev/null || true
    else
        if [ -e "$UNIT" ]; then
            systemctl_or_note "remove watchd.service from $ROOT/etc/systemd/system/*.wants/" \
                disable watchd.service || true
        fi
        [ -n "$ROOT" ] || say "note: systemd is not running here, so nothing was stopped;" \
            "if watchd runs outside systemd, stop it too (sudo watchd status shows its pid)"
    fi
    rm -f "$UNIT" "$LOGROTATE"
    ! systemd_running || systemctl_do daemon-reload
    rm -rf "$OPT"
    [ "$(readlink "$ROOT/usr/local/bin/watchd" 2>/dev/null)" != /opt/watchd/venv/bin/watchd ] \
        || rm -f "$ROOT/usr/local/bin/watchd"
    if [ "$PURGE" -eq 1 ]; then
        rm -rf "$ETC" "$STATE" "$LOGS"
        if [ -n "$(id_of passwd 2>/dev/null)" ]; then
            if [ -n "$ROOT" ]; then userdel --root "$ROOT" "$USER_NAME"; else userdel "$USER_NAME"; fi
        fi
        say "removed watchd, its configuration, database, logs and user"
    else
        say "removed watchd; kept $ETC, $STATE and $LOGS (--purge removes them)"
    fi
}

if [ "$ACTION" = uninstall ]; then
    uninstall
    exit 0
fi
ensure_python
ensure_user
install_venv
link_command
install_config
install_key
check_service_user_runs_watchd
install_service
