#!/bin/sh
# @@SCRIPT_NAME@@: restores backup set @@SET_ID@@ (@@FORMAT_NAME@@ format @@FORMAT_VERSION@@),
# made by @@TOOL_NAME@@ @@TOOL_VERSION@@ on @@HOST@@.
#
# Usage: sh @@SCRIPT_NAME@@ --home DIR --root DIR@@OBJECTS_USAGE@@ [--password-file F | --password-fd N] [--yes] [--force]
#   --home DIR          the new home: LaunchAgents and shell files go here
#   --root DIR          the new project root: @@CODE_NOTE@@ and databases go here
#   --password-file F   the vault password@@VAULT_NOTE@@
#   --password-fd N     the vault password, read from open descriptor N instead of a file
#   --yes               do not ask for confirmation (needed when not on a terminal)
#   --force             restore into a home or root that is not empty
@@OBJECTS_HELP@@
#
# Needs only: tar, gzip, sed, cat, mkdir, chmod, mv, rm, and openssl, sha256sum or shasum
# (openssl to decrypt credentials: openssl enc -d -aes-256-cbc -pbkdf2 -iter N -md sha256).
# Steps: (1) check SHA256SUMS, (2) refuse a non-empty target without --force, (3) code,
# (4) databases, (5) LaunchAgents, (6) shell files, (7) credentials, (8) dependencies.
RD_SELF=$0
if [ -n "${ZSH_VERSION:-}" ]; then emulate sh; fi
set -eu
umask 022
unset CDPATH
RD_SET_ID=@@SET_ID_WORD@@
RD_SCRIPT_NAME=@@SCRIPT_NAME_WORD@@
rd_say() { printf 'restore: %s\n' "$*"; }
rd_fail() { printf 'restore: FAILED: %s\n' "$*" >&2; exit 1; }
rd_usage() {
    printf '%s\n' "usage: sh $RD_SCRIPT_NAME --home DIR --root DIR@@OBJECTS_USAGE@@ [--password-file F | --password-fd N] [--yes] [--force]"
}

RD_TMP= RD_CRED_TMP= RD_TAR_PID= RD_READER_FAILED= RD_TAR_ERR= RD_CRED_PID=
rd_cleanup() {
    # Not waited for: a shell's wait on a pipeline's pid waits for the whole pipeline, and a
    # reader that hangs (e.g. on a stalled network drive) would hang the cleanup.
    if [ -n "$RD_TAR_PID" ]; then kill "$RD_TAR_PID" 2>/dev/null || :; fi
    # The background openssl is stopped and waited for before its folder goes, so it cannot
    # write decrypted bytes after the removal.
    if [ -n "$RD_CRED_PID" ]; then
        kill "$RD_CRED_PID" 2>/dev/null || :
        wait "$RD_CRED_PID" 2>/dev/null || :
    fi
    if [ -n "$RD_READER_FAILED" ]; then rm -f "$RD_READER_FAILED"; fi
    if [ -n "$RD_TAR_ERR" ]; then rm -f "$RD_TAR_ERR"; fi
    if [ -n "$RD_TMP" ]; then rm -f "$RD_TMP"; fi
    if [ -n "$RD_CRED_TMP" ]; then rm -rf "$RD_CRED_TMP"; fi
}
trap rd_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
trap 'exit 141' PIPE

RD_HOME_ARG= RD_ROOT_ARG= RD_PASSWORD_FILE= RD_PASSWORD_FD= RD_YES=0 RD_FORCE=0
while [ $# -gt 0 ]; do
    @@OBJECTS_OPTION@@
    case $1 in
        --home) [ $# -ge 2 ] || rd_fail "--home needs a folder"; RD_HOME_ARG=$2; shift 2 ;;
        --home=*) RD_HOME_ARG=${1#--home=}; shift ;;
        --root) [ $# -ge 2 ] || rd_fail "--root needs a folder"; RD_ROOT_ARG=$2; shift 2 ;;
        --root=*) RD_ROOT_ARG=${1#--root=}; shift ;;
        --password-file) [ $# -ge 2 ] || rd_fail "--password-file needs a file"; RD_PASSWORD_FILE=$2; shift 2 ;;
        --password-file=*) RD_PASSWORD_FILE=${1#--password-file=}; shift ;;
        --password-fd) [ $# -ge 2 ] || rd_fail "--password-fd needs a descriptor"; RD_PASSWORD_FD=$2; shift 2 ;;
        --password-fd=*) RD_PASSWORD_FD=${1#--password-fd=}; shift ;;
        --yes|-y) RD_YES=1; shift ;;
        --force) RD_FORCE=1; shift ;;
        -h|--help) rd_usage; exit 0 ;;
        *) rd_usage >&2; rd_fail "unknown argument: $1" ;;
    esac
done
if [ -z "$RD_HOME_ARG" ] || [ -z "$RD_ROOT_ARG" ]; then
    rd_usage >&2
    rd_fail "--home and --root are required"
fi
for rd_arg in "$RD_HOME_ARG" "$RD_ROOT_ARG"; do
    case $rd_arg in
        *[[:cntrl:]]*) rd_fail "a control character in a target path is not supported: $rd_arg" ;;
    esac
done
if [ -n "$RD_PASSWORD_FILE" ] && [ ! -r "$RD_PASSWORD_FILE" ]; then
    rd_fail "--password-file $RD_PASSWORD_FILE: not readable"
fi
# An empty password file (an unset variable written to it) fails here, before anything is written.
if [ -n "$RD_PASSWORD_FILE" ] && [ ! -s "$RD_PASSWORD_FILE" ]; then
    rd_fail "--password-file $RD_PASSWORD_FILE: empty"
fi
# RD_PASS: openssl's -pass source (file:F or fd:N), empty without a password.
RD_PASS=
if [ -n "$RD_PASSWORD_FD" ]; then
    [ -z "$RD_PASSWORD_FILE" ] || rd_fail "give --password-file or --password-fd, not both"
    case $RD_PASSWORD_FD in
        *[!0-9]*) rd_fail "--password-fd $RD_PASSWORD_FD: not a descriptor number" ;;
    esac
    RD_PASS=fd:$RD_PASSWORD_FD
elif [ -n "$RD_PASSWORD_FILE" ]; then
    RD_PASS=file:$RD_PASSWORD_FILE
fi

# The set folder is the folder holding this script.
case $RD_SELF in
    */*) RD_DIR=${RD_SELF%/*} ;;
    *) RD_DIR=. ;;
esac
case $RD_DIR in
    /*) ;;
    '') RD_DIR=/ ;;
    *) RD_DIR=./$RD_DIR ;;
esac
RD_SET=$(cd "$RD_DIR" && pwd -P) || rd_fail "cannot find the set folder from $RD_SELF"

if command -v openssl >/dev/null 2>&1; then
    RD_HASH=openssl
elif command -v sha256sum >/dev/null 2>&1; then
    RD_HASH=sha256sum
elif command -v shasum >/dev/null 2>&1; then
    RD_HASH=shasum
else
    RD_HASH=
fi

# A faster gzip reader when one is installed (igzip of ISA-L reads this workspace's code
# archive in 0.17 s where gzip -d takes 0.63 s; pigz -d keeps reading, inflating and
# checking on separate threads); else tar's own gzip.
if command -v igzip >/dev/null 2>&1; then
    RD_GUNZIP=igzip
elif command -v pigz >/dev/null 2>&1; then
    RD_GUNZIP=pigz
else
    RD_GUNZIP=
fi

# The tools this restore needs, checked by rd_check_tools before anything is written (issue 19).
# RD_NEEDS_ENC: 1 when the set has a vault to decrypt (openssl enc must then know -pbkdf2 and
# -iter, checked only when a password is given).
RD_NEEDS_ENC=@@NEEDS_OPENSSL_ENC@@
RD_OPENSSL_INSTALL='install OpenSSL 3 (brew install openssl@3, apt install openssl)'
# RD_PAX_NAME: the one member of the archive rd_pax_archive prints, a pax archive (made when the
# script was rendered) whose ustar header holds a short name and whose pax header holds this long
# one: a tar that lists this name reads pax headers (GNU tar, bsdtar); one that does not lists
# the short name or fails.
RD_PAX_NAME=@@PAX_NAME@@

# Prints N (at least 0) NUL bytes.
rd_nul() {
    rd_k=$1
    while [ "$rd_k" -ge 64 ]; do
        printf '\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000'
        printf '\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000'
        rd_k=$((rd_k - 64))
    done
    while [ "$rd_k" -gt 0 ]; do
        printf '\000'
        rd_k=$((rd_k - 1))
    done
}

# Prints the pax archive of RD_PAX_NAME (one empty file).
rd_pax_archive() {
@@PAX_ARCHIVE@@
}

# Prints the first line of its input without control characters.
rd_line() {
    sed -n '1{s/[[:cntrl:]]//g;p;}'
}

# Prints the first line of what command "$@" prints on stdout and stderr, or nothing when it
# is not installed.
rd_version() {
    command -v "$1" >/dev/null 2>&1 || return 0
    "$@" 2>&1 </dev/null | rd_line
}

# Prints the name of the shell running this script, with its version where it says.
rd_shell() {
    if [ -n "${BASH_VERSION:-}" ]; then
        printf 'bash %s\n' "$BASH_VERSION"
    elif [ -n "${ZSH_VERSION:-}" ]; then
        printf 'zsh %s\n' "$ZSH_VERSION"
    elif [ -n "${KSH_VERSION:-}" ]; then
        printf '%s\n' "$KSH_VERSION"
    else
        # The program behind the process (Linux), else what ps calls it, else "sh".
        rd_exe=$(readlink "/proc/$$/exe" 2>/dev/null) || rd_exe=
        [ -n "$rd_exe" ] || rd_exe=$(ps -o comm= -p "$$" 2>/dev/null) || rd_exe=
        rd_exe=${rd_exe##*/}
        printf '%s\n' "${rd_exe:-sh}"
    fi
}

# Writes what this restore runs with to the file RESTORE_DRILL_TOOLS names, when it names one
# (a drill sets it): one key=value a line (sh, tar, gzip, hash, openssl, sqlite3, os, arch), each
# value one line without control characters; a tool that is not installed gets no line.
rd_record_tools() {
    [ -n "${RESTORE_DRILL_TOOLS:-}" ] || return 0
    {
        for rd_key in sh tar gzip hash openssl sqlite3 os arch; do
            case $rd_key in
                sh) rd_val=$(rd_shell | rd_line) ;;
                tar) rd_val=$(rd_version tar --version) ;;
                gzip) rd_val=$(rd_version "${RD_GUNZIP:-gzip}" --version) ;;
                hash)
                    case $RD_HASH in
                        openssl) rd_val=$(rd_version openssl version) ;;
                        '') rd_val= ;;
                        *) rd_val=$(rd_version "$RD_HASH" --version) ;;
                    esac
                    [ -z "$RD_HASH" ] || rd_val="$RD_HASH: $rd_val"
                    ;;
                openssl) rd_val=$(rd_version openssl version) ;;
                sqlite3) rd_val=$(rd_version sqlite3 --version) ;;
                os) rd_val=$(rd_version uname -s) ;;
                *) rd_val=$(rd_version uname -m) ;;
            esac
            [ -z "$rd_val" ] || printf '%s=%s\n' "$rd_key" "$rd_val"
        done
    } >"$RESTORE_DRILL_TOOLS" 2>/dev/null || :
}

# Stops, naming every tool that is missing or too old and what to install, before anything is
# written: a tar that reads pax archives, a SHA-256 tool, gzip, and, when the set has a vault and
# a password is given, an openssl whose enc knows -pbkdf2 and -iter.
rd_check_tools() {
    rd_bad=
    if ! command -v tar >/dev/null 2>&1; then
        rd_bad="tar not found: install GNU tar or bsdtar"
    else
        rd_listed=$(rd_pax_archive | tar -tf - 2>/dev/null) || rd_listed=
        case $RD_NL$rd_listed$RD_NL in
            *"$RD_NL$RD_PAX_NAME$RD_NL"*) ;;
            *) rd_bad="tar ($(rd_version tar --version)) cannot read pax archives: install GNU tar or bsdtar" ;;
        esac
    fi
    if [ -z "$RD_HASH" ]; then
        rd_bad="${rd_bad:+$rd_bad; }no SHA-256 tool found (openssl, sha256sum or shasum): install coreutils or OpenSSL"
    fi
    if ! command -v gzip >/dev/null 2>&1; then
        rd_bad="${rd_bad:+$rd_bad; }gzip not found: install gzip"
    fi
    if [ "$RD_NEEDS_ENC" = 1 ] && [ -n "$RD_PASS" ]; then
        if ! command -v openssl >/dev/null 2>&1; then
            rd_bad="${rd_bad:+$rd_bad; }openssl not found (it decrypts the credentials): $RD_OPENSSL_INSTALL"
        else
            rd_help=$(openssl enc -help 2>&1 </dev/null) || :
            case $rd_help in
                *-pbkdf2*-iter* | *-iter*-pbkdf2*) ;;
                *)
                    rd_bad="${rd_bad:+$rd_bad; }openssl ($(rd_version openssl version)) lacks -pbkdf2 and -iter"
                    rd_bad="$rd_bad (LibreSSL before 2.9.1 or OpenSSL before 1.1.1): $RD_OPENSSL_INSTALL"
                    ;;
            esac
        fi
    fi
    [ -z "$rd_bad" ] || rd_fail "tools: $rd_bad"
}

rd_sha256() {
    case $RD_HASH in
        openssl) openssl dgst -sha256 -r <"$1" ;;
        sha256sum) sha256sum <"$1" ;;
        *) shasum -a 256 <"$1" ;;
    esac
}

# Prints one line per file argument, in order: its SHA-256 (64 lowercase hex), whatever the
# tool (sha256sum puts a \ before the line of a name it escapes). A file that cannot be
# read gets no line, so a caller comparing the lines sees the difference.
rd_hashes() {
    case $RD_HASH in
        openssl) openssl dgst -sha256 -r "$@" ;;
        sha256sum) sha256sum "$@" ;;
        *) shasum -a 256 "$@" ;;
    esac 2>/dev/null | sed -n -e 's/^\\//' -e 's/^\([0-9a-f]\{64\}\) .*/\1/p'
}

# Prints the SHA-256 of file $1 (64 lowercase hex).
rd_digest() {
    rd_out=$(rd_sha256 "$1") || return 1
    printf '%s\n' "${rd_out%% *}"
}

# Prints the hashes (rd_hashes) of the arguments after $1 and $2 whose positions are $1 to
# $2 (1-based), in order.
rd_hashes_range() {
    rd_from=$1 rd_to=$2
    shift 2
    rd_n=$#
    rd_i=0
    for rd_f do
        rd_i=$((rd_i + 1))
        if [ "$rd_i" -ge "$rd_from" ] && [ "$rd_i" -le "$rd_to" ]; then set -- "$@" "$rd_f"; fi
    done
    shift "$rd_n"
    if [ $# -gt 0 ]; then rd_hashes "$@"; fi
}

# (1) Checks every SHA256SUMS line; $1 is how many artifacts the set has, $2 where to cut
# the list in two halves of about the same bytes. The lines are checked first (shape, safe
# names, file present), then two processes hash the two halves at once (the pipe runs both
# sides together; the first half's lines come out first); only when the checksums differ
# are the files hashed one at a time, to name the first that differs.
rd_verify_sums() {
    [ -f "$RD_SET/SHA256SUMS" ] || rd_fail "SHA256SUMS: missing"
    rd_expected=$1
    rd_split=${2:-0}
    rd_count=0
    rd_want=
    set --
    while IFS= read -r rd_line || [ -n "$rd_line" ]; do
        [ -n "$rd_line" ] || continue
        rd_sum=${rd_line%%  *}
        rd_name=${rd_line#*  }
        case $rd_sum in
            *[!0-9a-f]*) rd_fail "SHA256SUMS: malformed line: $rd_line" ;;
        esac
        [ ${#rd_sum} -eq 64 ] || rd_fail "SHA256SUMS: malformed line: $rd_line"
        case $rd_name in
            '' | /* | .. | ../* | */.. | */../*) rd_fail "SHA256SUMS: unsafe name: $rd_name" ;;
        esac
        [ -f "$RD_SET/$rd_name" ] || rd_fail "$rd_name: missing"
        set -- "$@" "./$rd_name"
        rd_want=$rd_want$rd_sum$RD_NL
        rd_count=$((rd_count + 1))
    done <"$RD_SET/SHA256SUMS"
    [ "$rd_count" -ge "$rd_expected" ] || rd_fail "SHA256SUMS: lists $rd_count artifacts, the set has $rd_expected"
    if [ "$rd_split" -gt 0 ] && [ "$rd_split" -lt "$rd_count" ]; then
        rd_got=$(cd "$RD_SET" && rd_hashes_range 1 "$rd_split" "$@" | {
            rd_rest=$(rd_hashes_range $((rd_split + 1)) "$rd_count" "$@")
            cat
            printf '%s\n' "$rd_rest"
        })$RD_NL
    else
        rd_got=$(cd "$RD_SET" && rd_hashes "$@")$RD_NL
    fi
    if [ "$rd_got" != "$rd_want" ]; then
        for rd_name in "$@"; do
            rd_sum=${rd_want%%"$RD_NL"*}
            rd_want=${rd_want#*"$RD_NL"}
            rd_one=$(cd "$RD_SET" && rd_hashes "$rd_name")
            rd_name=${rd_name#./}
            [ -n "$rd_one" ] || rd_fail "$rd_name: cannot be read"
            [ "$rd_one" = "$rd_sum" ] || rd_fail "$rd_name: checksum mismatch"
        done
        rd_fail "SHA256SUMS: the checksums differ"
    fi
    rd_say "verified $rd_count artifacts (SHA-256 with $RD_HASH)"
}

rd_confirm() {
    [ "$RD_YES" -eq 1 ] && return 0
    if [ -t 0 ] && [ -t 1 ]; then
        printf 'Restore set %s into home %s and root %s? [y/N] ' "$RD_SET_ID" "$RD_HOME_ARG" "$RD_ROOT_ARG"
        read -r rd_answer || rd_answer=
        case $rd_answer in
            y | Y | yes | YES) ;;
            *) rd_fail "cancelled" ;;
        esac
    else
        rd_fail "not on a terminal: pass --yes to restore without asking"
    fi
}

# Makes folder $1 and prints its absolute physical path.
rd_abs_dir() {
    mkdir -p "$1" || return 1
    case $1 in
        /*) rd_d=$1 ;;
        *) rd_d=./$1 ;;
    esac
    (cd "$rd_d" && pwd -P)
}

# Counts the entries of folder $1 into RD_N; RD_ONE is one of them.
rd_entries() {
    RD_N=0
    RD_ONE=
    for rd_e in "$1"/* "$1"/.[!.]* "$1"/..?*; do
        if [ -e "$rd_e" ] || [ -L "$rd_e" ]; then
            RD_N=$((RD_N + 1))
            RD_ONE=$rd_e
        fi
    done
}

# True when folder $1 holds nothing, or nothing but the empty folders leading to RD_ROOT.
rd_is_empty() {
    rd_d=$1
    while :; do
        rd_entries "$rd_d"
        if [ "$RD_N" -eq 0 ]; then return 0; fi
        if [ "$rd_d" = "$RD_ROOT" ] || [ "$RD_N" -ne 1 ] || [ -L "$RD_ONE" ] || [ ! -d "$RD_ONE" ]; then
            return 1
        fi
        case $RD_ROOT/ in
            "$RD_ONE"/*) rd_d=$RD_ONE ;;
            *) return 1 ;;
        esac
    done
}

# (2) Makes the targets, refuses non-empty ones without --force.
rd_prepare_targets() {
    RD_HOME=$(rd_abs_dir "$RD_HOME_ARG") || rd_fail "--home $RD_HOME_ARG: cannot create or enter it"
    RD_ROOT=$(rd_abs_dir "$RD_ROOT_ARG") || rd_fail "--root $RD_ROOT_ARG: cannot create or enter it"
    if [ "$RD_HOME" = / ] || [ "$RD_ROOT" = / ]; then rd_fail "refusing to restore into /"; fi
    if [ "$RD_FORCE" -ne 1 ]; then
        rd_is_empty "$RD_HOME" || rd_fail "home $RD_HOME is not empty (use --force to restore into it)"
        rd_is_empty "$RD_ROOT" || rd_fail "root $RD_ROOT is not empty (use --force to restore into it)"
    fi
    RD_ROOT_SED=$(rd_sed_new "$RD_ROOT")
    RD_HOME_SED=$(rd_sed_new "$RD_HOME")
}

# (3) Starts extracting archive $1 into the root in the background: tar and gzip keep about
# one core busy while the databases, LaunchAgents and shell files (none of them a path the
# archive holds) are restored beside them. rd_extract_wait waits and stops on a failure.
# tar is the background process itself ($! of a pipeline is its last command), so the
# cleanup on any exit stops it; a reader feeding it then dies of SIGPIPE. A reader that
# fails on its own (status other than SIGPIPE's 141) leaves a marker file in the root,
# since POSIX sh has no pipefail. tar's messages go to a file in the root, read when it ends.
RD_TAR_PID= RD_TAR_NAME= RD_READER_FAILED= RD_TAR_ERR= RD_REFUSED=0
rd_extract_code() {
    rd_say "code: extracting $1 into $RD_ROOT"
    RD_TAR_NAME=$1
    RD_READER_FAILED=$RD_ROOT/.restore-drill-reader-failed-$$
    RD_TAR_ERR=$RD_ROOT/.restore-drill-tar-errors-$$
    if [ -n "$RD_GUNZIP" ]; then
        { "$RD_GUNZIP" -dc <"$RD_SET/$1" || { rd_rc=$?; [ "$rd_rc" -eq 141 ] || : >"$RD_READER_FAILED"; }; } |
            tar -xpf - -C "$RD_ROOT" 2>"$RD_TAR_ERR" &
    else
        tar -xpzf "$RD_SET/$1" -C "$RD_ROOT" 2>"$RD_TAR_ERR" &
    fi
    RD_TAR_PID=$!
}

# Names are stored as their bytes (pax hdrcharset=BINARY): GNU tar, which does not know that
# keyword, says so for each such member and extracts the bytes all the same; bsdtar reads it.
# A file system that refuses a name (macOS takes only UTF-8 names: EILSEQ, "Illegal byte
# sequence"; glibc's words for it are "Invalid or incomplete multibyte or wide character")
# stops that one file, and tar goes on with the others: rd_extract_wait says which and goes on,
# and rd_finish fails at the very end. Any other message of a failed tar fails at once.
rd_extract_wait() {
    [ -n "$RD_TAR_PID" ] || return 0
    # RD_TAR_PID stays set while waiting, so a signal's cleanup still stops tar.
    rd_rc=0
    wait "$RD_TAR_PID" || rd_rc=$?
    RD_TAR_PID=
    rd_errors=$(sed -e '/nknown extended header keyword .hdrcharset/d' \
        -e '/Exiting with failure status due to previous errors/d' \
        -e '/Error exit delayed from previous errors/d' "$RD_TAR_ERR" 2>/dev/null) || rd_errors=
    rm -f "$RD_TAR_ERR"
    RD_TAR_ERR=
    if [ -e "$RD_READER_FAILED" ]; then
        rm -f "$RD_READER_FAILED"
        rd_fail "$RD_TAR_NAME: extraction failed ($RD_GUNZIP -d could not read it)"
    fi
    if [ "$rd_rc" -ne 0 ]; then
        rd_refused=$(printf '%s\n' "$rd_errors" |
            sed -n -e '/Illegal byte sequence/p' -e '/Invalid or incomplete multibyte or wide character/p')
        rd_other=$(printf '%s\n' "$rd_errors" |
            sed -e '/Illegal byte sequence/d' -e '/Invalid or incomplete multibyte or wide character/d' -e '/^$/d')
        if [ -n "$rd_other" ] || [ -z "$rd_refused" ]; then
            [ -z "$rd_errors" ] || printf '%s\n' "$rd_errors" >&2
            rd_fail "$RD_TAR_NAME: extraction failed"
        fi
        # tar names each path with its bytes escaped (caf\351.txt), so the line is safe to print.
        printf '%s\n' "$rd_refused" | while IFS= read -r rd_line; do
            printf 'restore: code: NOT RESTORED, this system refuses the file name: %s\n' "$rd_line" >&2
        done
        RD_REFUSED=$(printf '%s\n' "$rd_refused" | sed -n '$=')
        rd_say "code: extracted $RD_TAR_NAME but for $RD_REFUSED paths whose names this system refuses (above); going on"
        return 0
    fi
    [ -z "$rd_errors" ] || printf '%s\n' "$rd_errors" >&2
    rd_say "code: extracted $RD_TAR_NAME"
}

# rd_normalisation_twins N: N groups of names in the code archive differ only by Unicode
# normalisation (NFC/NFD, e.g. Résumé.txt typed on Linux and copied from a Mac). Linux keeps
# every one; macOS (APFS, HFS+) treats each group as one name, so there tar's last member of
# the group replaced the others (same name, the content of the one extracted last): say so.
rd_normalisation_twins() {
    case $(uname -s 2>/dev/null || :) in
        Darwin)
            printf 'restore: WARNING: %s\n' "code: $1 groups of file names in $RD_TAR_NAME differ only by Unicode normalisation (NFC/NFD); this system treats each group as one name, so of each group only the file extracted last is here (the manifest's warnings name them)" >&2
            ;;
    esac
}

# The last step: done, or, once every other step ran, a failure saying how many paths were
# kept out by names this system refuses.
rd_finish() {
    if [ "$RD_REFUSED" -gt 0 ]; then
        rd_fail "$RD_REFUSED paths of $RD_TAR_NAME not restored: this system refuses their names (not valid UTF-8; macOS takes only UTF-8 names); everything else was restored. Restore on Linux to get them, or rename them at the source"
    fi
    rd_say "done: set $RD_SET_ID restored into home $RD_HOME and root $RD_ROOT"
}

# Makes the folder of target $1 (when missing) and sets rd_p to it.
rd_parent() {
    rd_p=${1%/*}
    [ -d "$rd_p" ] || mkdir -p "$rd_p" || rd_fail "cannot create folder $rd_p"
}

# Sets the mode of file $1 to $2 unless it has it already (new files are 644 under umask 022).
rd_chmod() {
    [ "$2" = 644 ] || chmod "$2" "$1"
}

# (4) rd_restore_db BASE PATH SHA256 MODE PIECE...: concatenates the pieces in order and,
# for chunks, checks the whole file's SHA-256 (a wrong order or a missing chunk shows
# there); a database in one piece is the artifact step (1) checked, copied as it is.
rd_restore_db() {
    if [ "$1" = home ]; then rd_target=$RD_HOME/$2; else rd_target=$RD_ROOT/$2; fi
    rd_name=$2
    rd_want=$3
    rd_mode=$4
    shift 4
    rd_parent "$rd_target"
    rd_say "databases: $rd_name ($# pieces)"
    RD_TMP=$rd_p/.restore-drill-$$.tmp
    : >"$RD_TMP" || rd_fail "$rd_name: cannot write $RD_TMP"
    for rd_piece in "$@"; do
        [ -f "$RD_SET/$rd_piece" ] || rd_fail "$rd_piece: missing"
        cat "$RD_SET/$rd_piece" >>"$RD_TMP" || rd_fail "$rd_piece: cannot append it to $rd_name"
    done
    if [ $# -gt 1 ]; then
        rd_got=$(rd_digest "$RD_TMP") || rd_fail "$rd_name: cannot read the reassembled copy"
        [ "$rd_got" = "$rd_want" ] || rd_fail "$rd_name: reassembled database checksum mismatch"
    fi
    rd_chmod "$RD_TMP" "$rd_mode" || rd_fail "$rd_name: chmod $rd_mode failed"
    mv -f "$RD_TMP" "$rd_target" || rd_fail "$rd_name: cannot move it into place"
    RD_TMP=
}

# (4, after (3)) rd_db_sidecars BASE PATH: a -wal, -shm or -journal beside a restored database
# is not the backup's (the backup stores none: each database is one consistent copy). It is an
# old copy's, left at the target of a restore with --force, or came with the code archive; SQLite
# would replay it into the restored database. Each is moved aside (renamed, never deleted: it may
# be the user's), once the archive is extracted, before anything opens the database.
rd_db_sidecars() {
    if [ "$1" = home ]; then rd_target=$RD_HOME/$2; else rd_target=$RD_ROOT/$2; fi
    for rd_sfx in -wal -shm -journal; do
        if [ -e "$rd_target$rd_sfx" ] || [ -L "$rd_target$rd_sfx" ]; then
            rd_aside=$rd_target$rd_sfx.before-restore-$$
            mv -f "$rd_target$rd_sfx" "$rd_aside" || rd_fail "$2: cannot move the stale $rd_sfx aside"
            rd_say "databases: $2: a stale $rd_sfx not from the backup moved aside to $rd_aside"
        fi
    done
}

# (5) The rewrite: each old prefix (a BRE of its XML form) becomes a control-character marker
# (illegal in XML, so no collision), twice to catch overlaps like :OLD:OLD:, then markers
# become the new paths. Boundaries: ">" or : = space before, "<" or / : space after.
RD_D=$(printf '\037')
RD_M1=$(printf '\001')
RD_M2=$(printf '\002')
RD_M3=$(printf '\003')
RD_M4=$(printf '\004')
RD_M5=$(printf '\005')
RD_M6=$(printf '\006')
RD_M7=$(printf '\007')
RD_M8=$(printf '\010')
RD_NL='
'
RD_SED=

# Prints $1 XML-escaped, then escaped for a sed replacement (\ and &).
rd_sed_new() {
    printf '%s\n' "$1" | sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' -e 's/[\\&]/\\&/g'
}

rd_add_old() {
    rd_s="s${RD_D}\\([>:= ]\\)$1\\([<:/ ]\\)${RD_D}\\1$2\\2${RD_D}g"
    RD_SED=$RD_SED$rd_s$RD_NL$rd_s$RD_NL
}

rd_add_new() {
    RD_SED=${RD_SED}s$RD_D$1$RD_D$2${RD_D}g$RD_NL
}

# rd_restore_agent ARTIFACT PATH MODE: writes $HOME/PATH through the rewrite in RD_SED.
rd_restore_agent() {
    rd_target=$RD_HOME/$2
    rd_parent "$rd_target"
    rd_say "launchagents: $2"
    RD_TMP=$rd_p/.restore-drill-$$.tmp
    sed "$RD_SED" <"$RD_SET/$1" >"$RD_TMP" || rd_fail "$1: path rewrite failed"
    rd_chmod "$RD_TMP" "$3" || rd_fail "$2: chmod $3 failed"
    mv -f "$RD_TMP" "$rd_target" || rd_fail "$2: cannot move it into place"
    RD_TMP=
}

# True when vault $1 of the set starts with `Salted__`: openssl enc writes it and the 8-byte salt
# first; without it, no password helps.
rd_vault_header_ok() {
    rd_magic=
    IFS= read -r rd_magic <"$RD_SET/$1" 2>/dev/null || :
    case $rd_magic in
        Salted__*) return 0 ;;
        *) return 1 ;;
    esac
}

# Stops saying which failure openssl met decrypting vault $1 (its stderr is in
# $RD_CRED_TMP/openssl.err): an openssl without -pbkdf2/-iter (old LibreSSL, OpenSSL before
# 1.1.1) is not a wrong password. openssl never prints the password.
rd_credentials_failed() {
    rd_err=$(sed -n '1{s/[^ -~]//g;p;}' "$RD_CRED_TMP/openssl.err")
    case $(cat "$RD_CRED_TMP/openssl.err") in
        *bad\ decrypt* | *bad\ magic* | *wrong\ final\ block* | *error\ reading\ input*)
            rd_fail "credentials: wrong password or damaged vault ($1 does not decrypt; openssl said: $rd_err)"
            ;;
        *[Uu]nknown\ option* | *[Uu]nrecognized\ flag* | *[Uu]nrecognized\ option* | *[Ii]nvalid\ option* | \
            *[Uu]nknown\ cipher* | *pbkdf2* | *-iter*)
            rd_fail "credentials: openssl is too old to decrypt $1: $(openssl version 2>/dev/null || echo 'its version is unknown') does not know -pbkdf2 and -iter (openssl said: $rd_err); OpenSSL 1.1.1 or later has them"
            ;;
        *)
            rd_fail "credentials: openssl cannot decrypt $1 (openssl said: ${rd_err:-nothing})"
            ;;
    esac
}

# (7, started with (3)) rd_credentials_start VAULT ITERATIONS: starts decrypting the vault
# with the openssl CLI (the password is read from the file or the descriptor, never from the
# command line) into a private folder inside the root, in the background: its key derivation
# (PBKDF2, about 0.4 s of one core at 600 000 iterations) runs beside the extraction and steps
# (4) to (6). rd_credentials_open waits for it. Does nothing without a password or openssl, or
# when the vault has no `Salted__` header (rd_credentials_open then says why).
rd_credentials_start() {
    [ -n "$RD_PASS" ] || return 0
    command -v openssl >/dev/null 2>&1 || return 0
    rd_vault_header_ok "$1" || return 0
    RD_CRED_TMP=$RD_ROOT/.restore-drill-credentials-$$
    (umask 077 && mkdir "$RD_CRED_TMP" "$RD_CRED_TMP/files") || rd_fail "credentials: cannot create $RD_CRED_TMP"
    rd_say "credentials: decrypting $1 (PBKDF2-HMAC-SHA256, $2 iterations) beside the other steps"
    (umask 077 && exec openssl enc -d -aes-256-cbc -pbkdf2 -iter "$2" -md sha256 -pass "$RD_PASS" \
        -in "$RD_SET/$1" -out "$RD_CRED_TMP/vault.tar") 2>"$RD_CRED_TMP/openssl.err" &
    RD_CRED_PID=$!
}

# (7) rd_credentials_open VAULT ITERATIONS: waits for the decryption rd_credentials_start began
# (or decrypts now when it was not started), then unpacks the tar in the private folder.
# Returns 1 (credentials skipped) without --password-file or --password-fd.
rd_credentials_open() {
    if [ -z "$RD_PASS" ]; then
        rd_say "credentials: skipped (no --password-file)"
        return 1
    fi
    command -v openssl >/dev/null 2>&1 || rd_fail "credentials: openssl is needed to decrypt $1"
    rd_vault_header_ok "$1" ||
        rd_fail "credentials: $1 is not an openssl-encrypted vault (no Salted__ header): damaged or replaced"
    if [ -n "$RD_CRED_PID" ]; then
        rd_rc=0
        wait "$RD_CRED_PID" || rd_rc=$?
        RD_CRED_PID=
        [ "$rd_rc" -eq 0 ] || rd_credentials_failed "$1"
    else
        RD_CRED_TMP=$RD_ROOT/.restore-drill-credentials-$$
        (umask 077 && mkdir "$RD_CRED_TMP" "$RD_CRED_TMP/files") || rd_fail "credentials: cannot create $RD_CRED_TMP"
        rd_say "credentials: decrypting $1 (PBKDF2-HMAC-SHA256, $2 iterations)"
        if ! (umask 077 && openssl enc -d -aes-256-cbc -pbkdf2 -iter "$2" -md sha256 -pass "$RD_PASS" \
            -in "$RD_SET/$1" -out "$RD_CRED_TMP/vault.tar") 2>"$RD_CRED_TMP/openssl.err"; then
            rd_credentials_failed "$1"
        fi
    fi
    rm -f "$RD_CRED_TMP/openssl.err"
    if ! (umask 077 && tar -xpf "$RD_CRED_TMP/vault.tar" -C "$RD_CRED_TMP/files") 2>/dev/null; then
        rd_fail "credentials: wrong password or damaged vault ($1 is not an archive once decrypted)"
    fi
    rm -f "$RD_CRED_TMP/vault.tar"
}

# rd_restore_credential BASE PATH: moves one decrypted file to $HOME/PATH or $ROOT/PATH, mode 0600.
rd_restore_credential() {
    if [ "$1" = home ]; then rd_target=$RD_HOME/$2; else rd_target=$RD_ROOT/$2; fi
    rd_src=$RD_CRED_TMP/files/$1/$2
    if [ -L "$rd_src" ] || [ ! -f "$rd_src" ]; then rd_fail "credentials: $2 is missing from the vault"; fi
    chmod 600 "$rd_src" || rd_fail "credentials: $2: chmod 600 failed"
    rd_parent "$rd_target"
    mv -f "$rd_src" "$rd_target" || rd_fail "credentials: $2: cannot move it into place"
    rd_say "credentials: $2"
}

rd_credentials_close() {
    rm -rf "$RD_CRED_TMP" || rd_fail "credentials: cannot remove $RD_CRED_TMP"
    RD_CRED_TMP=
    rd_say "credentials: restored $1 files (mode 0600)"
}

# (6) rd_restore_file ARTIFACT PATH MODE: copies a shell file to $HOME/PATH.
rd_restore_file() {
    rd_target=$RD_HOME/$2
    rd_parent "$rd_target"
    rd_say "shell: $2"
    RD_TMP=$rd_p/.restore-drill-$$.tmp
    cat "$RD_SET/$1" >"$RD_TMP" || rd_fail "$1: cannot copy it"
    rd_chmod "$RD_TMP" "$3" || rd_fail "$2: chmod $3 failed"
    mv -f "$RD_TMP" "$rd_target" || rd_fail "$2: cannot move it into place"
    RD_TMP=
}

# Before any step: what this restore runs with (written only for a drill, RESTORE_DRILL_TOOLS),
# then the tools it needs, so a missing or old one stops it before anything is written.
rd_record_tools
rd_check_tools
