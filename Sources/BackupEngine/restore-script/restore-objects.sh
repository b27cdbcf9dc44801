
# ---- Format 2: the set's artifacts are shared objects ----------------------------------------
# Every artifact but this script is an object, <objects>/<ab>/<sha256> (its SHA-256 as 64
# lowercase hex, <ab> the first two of them), read from the objects folder: --objects DIR, else
# the folder objects beside the set folder (where the destination, an export and a drill keep
# them). The functions below read objects; the ones above that read files of the set folder
# (rd_verify_sums, rd_extract_code, rd_restore_db, rd_restore_agent, rd_restore_file and the
# vault's) are format 1's and are not called here.

# RD_OBJECTS: the objects folder, an absolute physical path. A control character in --objects is
# refused as in --home and --root.
if [ -n "${RD_OBJECTS_GIVEN:-}" ]; then
    [ -n "$RD_OBJECTS_ARG" ] || rd_fail "--objects needs a folder"
    case $RD_OBJECTS_ARG in
        *[[:cntrl:]]*) rd_fail "a control character in the objects path is not supported: $RD_OBJECTS_ARG" ;;
    esac
else
    RD_OBJECTS_ARG=$RD_SET/../objects
fi
case $RD_OBJECTS_ARG in
    /*) RD_OBJECTS=$RD_OBJECTS_ARG ;;
    *) RD_OBJECTS=./$RD_OBJECTS_ARG ;;
esac
RD_OBJECTS=$(cd "$RD_OBJECTS" 2>/dev/null && pwd -P) ||
    rd_fail "objects: $RD_OBJECTS_ARG is not a folder (the set's objects are read from objects/ beside the set folder, or from --objects DIR)"

# Objects per hashing or gzip command: 200 names of about 67 bytes (<ab>/<sha256>, or the folder's
# path and that) stay far below the smallest ARG_MAX of the systems the script runs on (macOS:
# 256 KiB for arguments and environment together).
RD_BATCH=200

# Format 2 keeps a few more files in the root while the packs are extracted (removed on exit).
RD_PACK_FAILED= RD_PACK_ERR=
rd_cleanup_objects() {
    # The packs' job is stopped and waited for (it stops its own tar at once and exits) before
    # the files it writes go; then what format 1 cleans up.
    if [ -n "$RD_TAR_PID" ]; then
        kill "$RD_TAR_PID" 2>/dev/null || :
        wait "$RD_TAR_PID" 2>/dev/null || :
        RD_TAR_PID=
    fi
    if [ -n "$RD_PACK_FAILED" ]; then rm -f "$RD_PACK_FAILED"; fi
    if [ -n "$RD_PACK_ERR" ]; then rm -f "$RD_PACK_ERR"; fi
    rd_cleanup
}
trap rd_cleanup_objects EXIT

# ---- Issue 17: restoring some of the set's parts (--only) -----------------------------------
# A set whose script takes --only (its manifest says script_takes_only) lists its parts with
# --list-parts (one line each: number, kind, name, separated by tabs) and restores just the parts
# --only N,M,… names. RD_PARTS: ",N,M,", the chosen parts in ascending order, empty without
# --only (every part is restored, exactly as without this option); RD_SEL_OBJECTS: " <sha256> … ",
# the objects the chosen parts read (rd_part_objects, written into each set's script).
RD_PARTS= RD_SEL_OBJECTS= RD_SEL_LIST=

# rd_part N: true when part N is to be restored (always, without --only).
rd_part() {
    [ -n "$RD_PARTS" ] || return 0
    case $RD_PARTS in
        *",$1,"*) return 0 ;;
    esac
    return 1
}

# rd_select_parts COUNT: without --only, nothing. With it, checks its list (part numbers 1 to
# COUNT separated by commas; anything else, in any position, fails naming the item) before
# anything is read or written, and sets RD_PARTS and RD_SEL_OBJECTS.
rd_select_parts() {
    [ -n "${RD_ONLY_GIVEN:-}" ] || return 0
    [ -n "$RD_ONLY_ARG" ] || rd_fail "--only: an empty list (part numbers 1 to $1 separated by commas; --list-parts lists them)"
    rd_s_rest=$RD_ONLY_ARG,
    rd_s_chosen=,
    while [ -n "$rd_s_rest" ]; do
        rd_s_item=${rd_s_rest%%,*}
        rd_s_rest=${rd_s_rest#*,}
        case $rd_s_item in
            '') rd_fail "--only: an empty item in $RD_ONLY_ARG" ;;
            *[!0-9]* | 0*) rd_fail "--only: $rd_s_item is not a part number (1 to $1)" ;;
        esac
        if [ ${#rd_s_item} -gt 9 ] || [ "$rd_s_item" -gt "$1" ]; then
            rd_fail "--only: $rd_s_item is not a part of this set (it has $1: --list-parts lists them)"
        fi
        rd_s_chosen=$rd_s_chosen$rd_s_item,
    done
    # Ascending and each once; the objects the chosen parts read.
    RD_PARTS=,
    RD_SEL_OBJECTS=' '
    rd_s_n=1
    while [ "$rd_s_n" -le "$1" ]; do
        case $rd_s_chosen in
            *",$rd_s_n,"*)
                RD_PARTS=$RD_PARTS$rd_s_n,
                rd_part_objects "$rd_s_n"
                RD_SEL_OBJECTS="$RD_SEL_OBJECTS$RD_PO "
                ;;
        esac
        rd_s_n=$((rd_s_n + 1))
    done
}

# (3) rd_extract_part_packs PART NAME SHA256 …: rd_extract_packs with the packs of the chosen
# parts, in the order given; says so when none is chosen.
rd_extract_part_packs() {
    rd_x_n=$#
    while [ "$rd_x_n" -gt 0 ]; do
        if rd_part "$1"; then set -- "$@" "$2" "$3"; fi
        shift 3
        rd_x_n=$((rd_x_n - 3))
    done
    if [ $# -gt 0 ]; then
        rd_extract_packs "$@"
    else
        rd_say "code: no pack among the chosen parts"
    fi
}

# rd_finish_parts COUNT: with --only, says which parts were restored; then rd_finish.
rd_finish_parts() {
    if [ -n "$RD_PARTS" ]; then
        rd_f_list=${RD_PARTS#,}
        rd_say "restored parts ${rd_f_list%,} of $1"
    fi
    rd_finish
}

# Prints the <ab>/<sha256> names of the object lines $1 to $2 (1-based, among the object lines)
# of SHA256SUMS, which rd_verify_objects has checked line by line before.
rd_object_list() {
    [ "$2" -ge "$1" ] || return 0
    sed -n -e 's/^[0-9a-f]\{64\}  \.\.\/objects\/\([0-9a-f][0-9a-f]\/[0-9a-f]\{64\}\)$/\1/p' "$RD_SET/SHA256SUMS" |
        sed -n "$1,$2p"
}

# Hashes objects $@ (names <ab>/<sha256>, relative to the current folder) with one command. Returns
# 0 when each has the checksum its name says; else prints "bad SHA256 mismatch" (or "unreadable")
# for the first that differs, hashing them one at a time to find it, and returns 1.
rd_check_batch() {
    rd_b_got=$(rd_hashes "$@")$RD_NL
    rd_b_want=
    for rd_b do rd_b_want=$rd_b_want${rd_b#??/}$RD_NL; done
    [ "$rd_b_got" != "$rd_b_want" ] || return 0
    for rd_b do
        rd_b_one=$(rd_hashes "$rd_b")
        if [ -z "$rd_b_one" ]; then
            printf 'bad %s unreadable\n' "${rd_b#??/}"
            return 1
        fi
        if [ "$rd_b_one" != "${rd_b#??/}" ]; then
            printf 'bad %s mismatch\n' "${rd_b#??/}"
            return 1
        fi
    done
    printf 'bad %s mismatch\n' "${1#??/}"
    return 1
}

# Checks the objects of lines $1 to $2 (see rd_object_list) in batches of RD_BATCH, in the
# current folder (the objects folder). Prints "ok N" (N objects checked) or, at the first object
# that differs, rd_check_batch's "bad …" line.
rd_check_objects() {
    rd_object_list "$1" "$2" | rd_check_stream
}

# rd_check_objects's work on the <ab>/<sha256> names of its standard input, one a line (run in a
# subshell: it exits).
rd_check_stream() {
    rd_c_batch= rd_c_n=0 rd_c_total=0
    while IFS= read -r rd_c || [ -n "$rd_c" ]; do
        rd_c_batch="$rd_c_batch $rd_c"
        rd_c_n=$((rd_c_n + 1))
        if [ "$rd_c_n" -ge "$RD_BATCH" ]; then
            # The names are <ab>/<sha256> (hex and one /): split into words, never globbed.
            # shellcheck disable=SC2086
            rd_check_batch $rd_c_batch || exit 0
            rd_c_total=$((rd_c_total + rd_c_n))
            rd_c_batch= rd_c_n=0
        fi
    done
    if [ "$rd_c_n" -gt 0 ]; then
        # shellcheck disable=SC2086
        rd_check_batch $rd_c_batch || exit 0
        rd_c_total=$((rd_c_total + rd_c_n))
    fi
    printf 'ok %s\n' "$rd_c_total"
}

# (1) Format 2: checks every SHA256SUMS line; $1 is how many lines the set needs (its distinct
# objects and this script), $2 how many of the objects (in the order listed) the first of the two
# hashing processes takes, about half of their bytes. A line names either a file of the set
# folder (a plain name: this script) or exactly ../objects/<ab>/<sha256>, the line's own checksum,
# found in the objects folder; any other name is unsafe. The lines are checked first (shape,
# names, files present), then two processes hash the objects of the two halves at once, each in
# batches (one hashing command per RD_BATCH objects), naming the first object that differs; then
# the set folder's files.
rd_verify_objects() {
    [ -f "$RD_SET/SHA256SUMS" ] || rd_fail "SHA256SUMS: missing"
    rd_expected=$1
    rd_split=${2:-0}
    rd_count=0
    rd_objects=0
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
            ../objects/*)
                [ "$rd_name" = "../objects/${rd_sum%"${rd_sum#??}"}/$rd_sum" ] ||
                    rd_fail "SHA256SUMS: unsafe name: $rd_name"
                if [ -n "$RD_PARTS" ]; then
                    # --only: an object no chosen part reads is neither required nor hashed.
                    case $RD_SEL_OBJECTS in
                        *" $rd_sum "*) RD_SEL_LIST=$RD_SEL_LIST${rd_name#../objects/}$RD_NL ;;
                        *)
                            rd_count=$((rd_count + 1))
                            continue
                            ;;
                    esac
                fi
                [ -f "$RD_OBJECTS/${rd_name#../objects/}" ] ||
                    rd_fail "$(rd_object_names "$rd_sum"): object $rd_sum: missing from $RD_OBJECTS"
                rd_objects=$((rd_objects + 1))
                ;;
            '' | . | .. | */*) rd_fail "SHA256SUMS: unsafe name: $rd_name" ;;
            *)
                [ -f "$RD_SET/$rd_name" ] || rd_fail "$rd_name: missing"
                set -- "$@" "./$rd_name"
                rd_want=$rd_want$rd_sum$RD_NL
                ;;
        esac
        rd_count=$((rd_count + 1))
    done <"$RD_SET/SHA256SUMS"
    [ "$rd_count" -ge "$rd_expected" ] ||
        rd_fail "SHA256SUMS: lists $rd_count files, the set has $rd_expected (its objects and $RD_SCRIPT_NAME)"
    [ "$rd_split" -lt "$rd_objects" ] || rd_split=0
    if [ -n "$RD_PARTS" ]; then
        # --only: the chosen parts' objects, in one process.
        rd_seen=$(cd "$RD_OBJECTS" && printf '%s' "$RD_SEL_LIST" | rd_check_stream)
    else
        # The pipe runs both halves together; the first half's line comes out first.
        rd_seen=$(cd "$RD_OBJECTS" && rd_check_objects 1 "$rd_split" | {
            rd_rest=$(rd_check_objects $((rd_split + 1)) "$rd_objects")
            cat
            printf '%s\n' "$rd_rest"
        })
    fi
    rd_checked=0
    # One line per half: "ok N", or "bad SHA256 mismatch|unreadable".
    rd_first=${rd_seen%%"$RD_NL"*}
    case $rd_seen in
        *"$RD_NL"*) rd_second=${rd_seen#*"$RD_NL"} ;;
        *) rd_second= ;;
    esac
    for rd_line in "$rd_first" "$rd_second"; do
        case $rd_line in
            "ok "*) rd_checked=$((rd_checked + ${rd_line#ok })) ;;
            "bad "*)
                rd_sum=${rd_line#bad }
                rd_sum=${rd_sum%% *}
                case $rd_line in
                    *" unreadable") rd_fail "$(rd_object_names "$rd_sum"): object $rd_sum: cannot be read" ;;
                    *) rd_fail "$(rd_object_names "$rd_sum"): object $rd_sum: checksum mismatch" ;;
                esac
                ;;
        esac
    done
    [ "$rd_checked" -eq "$rd_objects" ] ||
        rd_fail "SHA256SUMS: $rd_checked of $rd_objects objects could be hashed in $RD_OBJECTS"
    if [ $# -gt 0 ]; then
        rd_got=$(cd "$RD_SET" && rd_hashes "$@")$RD_NL
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
    fi
    if [ -n "$RD_PARTS" ]; then
        rd_say "verified $rd_objects objects of the chosen parts in $RD_OBJECTS and $# files of the set (SHA-256 with $RD_HASH)"
    else
        rd_say "verified $rd_objects objects in $RD_OBJECTS and $# files of the set (SHA-256 with $RD_HASH)"
    fi
}

# (3) Format 2: rd_extract_packs NAME SHA256 …: extracts the code packs, in the order given (the
# manifest's: code/folders.tar.gz, every folder, comes last so the folders' modes and times are
# set after their contents), into the root, in ONE background job while the databases,
# LaunchAgents and shell files are restored beside it; rd_packs_wait waits for it. Each pack is a
# tar (or the igzip/pigz pipe) of its own, started in the background and waited for, so that the
# job, stopped by the cleanup, stops it at once. Names this system refuses (EILSEQ) stop only
# those paths, as in rd_extract_wait: their lines are collected across the packs and the job goes
# on; any other failure of a pack ends the job, naming that pack.
rd_extract_packs() {
    rd_say "code: extracting $(($# / 2)) packs into $RD_ROOT"
    RD_TAR_NAME='the code packs'
    RD_READER_FAILED=$RD_ROOT/.restore-drill-reader-failed-$$
    RD_TAR_ERR=$RD_ROOT/.restore-drill-tar-errors-$$
    RD_PACK_ERR=$RD_ROOT/.restore-drill-pack-errors-$$
    RD_PACK_FAILED=$RD_ROOT/.restore-drill-pack-failed-$$
    : >"$RD_TAR_ERR" || rd_fail "code: cannot write $RD_TAR_ERR"
    (
        trap - EXIT HUP PIPE
        # dash's `wait` sleeps with the signal mask the script was started with, and a caller that
        # started it with SIGCHLD blocked (as some process runners leave it) would make that wait
        # never return; dash clears its mask once it has waited for a command in the foreground,
        # so this job runs one (rm) before its first `wait`.
        rm -f "$RD_PACK_ERR"
        rd_x_tar=
        trap 'if [ -n "$rd_x_tar" ]; then kill "$rd_x_tar" 2>/dev/null || :; fi; exit 143' TERM
        rd_x_status=0
        while [ $# -ge 2 ]; do
            rd_x_object=$RD_OBJECTS/${2%"${2#??}"}/$2
            if [ -n "$RD_GUNZIP" ]; then
                { "$RD_GUNZIP" -dc <"$rd_x_object" || { rd_rc=$?; [ "$rd_rc" -eq 141 ] || : >"$RD_READER_FAILED"; }; } |
                    tar -xpf - -C "$RD_ROOT" 2>"$RD_PACK_ERR" &
            else
                tar -xpzf "$rd_x_object" -C "$RD_ROOT" 2>"$RD_PACK_ERR" &
            fi
            rd_x_tar=$!
            rd_x_rc=0
            wait "$rd_x_tar" || rd_x_rc=$?
            rd_x_tar=
            cat "$RD_PACK_ERR" >>"$RD_TAR_ERR"
            if [ -e "$RD_READER_FAILED" ]; then
                printf '%s\n' "$1" >"$RD_PACK_FAILED"
                exit 1
            fi
            if [ "$rd_x_rc" -ne 0 ]; then
                # Only refused names (and tar's notes) may let the packs go on.
                rd_x_other=$(sed -e '/nknown extended header keyword .hdrcharset/d' \
                    -e '/Exiting with failure status due to previous errors/d' \
                    -e '/Error exit delayed from previous errors/d' \
                    -e '/Illegal byte sequence/d' -e '/Invalid or incomplete multibyte or wide character/d' \
                    -e '/^$/d' "$RD_PACK_ERR")
                rd_x_refused=$(sed -n -e '/Illegal byte sequence/p' \
                    -e '/Invalid or incomplete multibyte or wide character/p' "$RD_PACK_ERR")
                if [ -n "$rd_x_other" ] || [ -z "$rd_x_refused" ]; then
                    printf '%s\n' "$1" >"$RD_PACK_FAILED"
                    exit 1
                fi
                rd_x_status=1
            fi
            shift 2
        done
        exit "$rd_x_status"
    ) &
    RD_TAR_PID=$!
}

# (3) Format 2: waits for rd_extract_packs's job. A pack that failed is named in the failure (else
# the message says "the code packs"); the job's status and messages then go through
# rd_extract_wait, so format 1 and 2 tell refused names from other failures in one place: a job
# that has ended already hands its status on as `(exit N) &`, which rd_extract_wait waits for.
rd_packs_wait() {
    [ -n "$RD_TAR_PID" ] || return 0
    rd_rc=0
    wait "$RD_TAR_PID" || rd_rc=$?
    RD_TAR_PID=
    if [ -s "$RD_PACK_FAILED" ]; then
        IFS= read -r RD_TAR_NAME <"$RD_PACK_FAILED" || :
    fi
    rm -f "$RD_PACK_FAILED" "$RD_PACK_ERR"
    RD_PACK_FAILED= RD_PACK_ERR=
    (exit "$rd_rc") &
    RD_TAR_PID=$!
    rd_extract_wait
}

# (4) Format 2: rd_restore_db_objects BASE PATH SHA256 MODE [gzip|plain] SHA256 …: writes the
# database's pieces, objects named by their SHA-256, in the order given, into a temporary file
# next to its target: a run of gzip-compressed pieces through one `gzip -dc` per RD_BATCH objects
# (gzip writes each file's bytes in turn), stored ones through `cat` the same way. The whole
# file's SHA-256 is always checked (a wrong order, a swapped or missing piece show there), then it
# is moved into place.
rd_restore_db_objects() {
    if [ "$1" = home ]; then rd_target=$RD_HOME/$2; else rd_target=$RD_ROOT/$2; fi
    rd_name=$2
    rd_want=$3
    rd_mode=$4
    shift 4
    rd_parent "$rd_target"
    rd_say "databases: $rd_name"
    RD_TMP=$rd_p/.restore-drill-$$.tmp
    : >"$RD_TMP" || rd_fail "$rd_name: cannot write $RD_TMP"
    rd_tool=gzip rd_batch= rd_n=0 rd_pieces=0
    for rd_piece in "$@" end; do
        case $rd_piece in
            gzip | plain | end)
                if [ "$rd_n" -gt 0 ] && [ "$rd_piece" != "$rd_tool" ]; then
                    rd_db_batch "$rd_name" "$rd_tool" "$rd_batch"
                    rd_batch= rd_n=0
                fi
                rd_tool=$rd_piece
                continue
                ;;
        esac
        rd_batch="$rd_batch ${rd_piece%"${rd_piece#??}"}/$rd_piece"
        rd_n=$((rd_n + 1))
        rd_pieces=$((rd_pieces + 1))
        if [ "$rd_n" -ge "$RD_BATCH" ]; then
            rd_db_batch "$rd_name" "$rd_tool" "$rd_batch"
            rd_batch= rd_n=0
        fi
    done
    rd_got=$(rd_digest "$RD_TMP") || rd_fail "$rd_name: cannot read the reassembled copy"
    [ "$rd_got" = "$rd_want" ] || rd_fail "$rd_name: reassembled database checksum mismatch ($rd_pieces pieces)"
    rd_chmod "$RD_TMP" "$rd_mode" || rd_fail "$rd_name: chmod $rd_mode failed"
    mv -f "$RD_TMP" "$rd_target" || rd_fail "$rd_name: cannot move it into place"
    RD_TMP=
}

# rd_db_batch NAME gzip|plain OBJECTS: appends the objects (a space-separated list of
# <ab>/<sha256>) to RD_TMP with one command, run in the objects folder.
rd_db_batch() {
    if [ "$2" = gzip ]; then
        # igzip (ISA-L) inflates the bench's 194 MB database in 0.50 s where gzip takes 1.08 s
        # (pigz -d 1.25 s: it inflates on one thread); both read concatenated members alike.
        if [ "$RD_GUNZIP" = igzip ]; then rd_z=igzip; else rd_z=gzip; fi
        # shellcheck disable=SC2086
        (cd "$RD_OBJECTS" && exec "$rd_z" -dc $3) >>"$RD_TMP" ||
            rd_fail "$1: cannot decompress its pieces ($rd_z -d failed; it named the object above)"
    else
        # shellcheck disable=SC2086
        (cd "$RD_OBJECTS" && exec cat $3) >>"$RD_TMP" ||
            rd_fail "$1: cannot append its pieces (cat failed; it named the object above)"
    fi
}

# (5) Format 2: rd_restore_agent_object ARTIFACT SHA256 PATH MODE: writes $HOME/PATH from the
# object through the rewrite in RD_SED.
rd_restore_agent_object() {
    rd_target=$RD_HOME/$3
    rd_parent "$rd_target"
    rd_say "launchagents: $3"
    RD_TMP=$rd_p/.restore-drill-$$.tmp
    sed "$RD_SED" <"$RD_OBJECTS/${2%"${2#??}"}/$2" >"$RD_TMP" || rd_fail "$1: path rewrite failed"
    rd_chmod "$RD_TMP" "$4" || rd_fail "$3: chmod $4 failed"
    mv -f "$RD_TMP" "$rd_target" || rd_fail "$3: cannot move it into place"
    RD_TMP=
}

# (6) Format 2: rd_restore_file_object ARTIFACT SHA256 PATH MODE: copies a shell file from its
# object to $HOME/PATH.
rd_restore_file_object() {
    rd_target=$RD_HOME/$3
    rd_parent "$rd_target"
    rd_say "shell: $3"
    RD_TMP=$rd_p/.restore-drill-$$.tmp
    cat "$RD_OBJECTS/${2%"${2#??}"}/$2" >"$RD_TMP" || rd_fail "$1: cannot copy it"
    rd_chmod "$RD_TMP" "$4" || rd_fail "$3: chmod $4 failed"
    mv -f "$RD_TMP" "$rd_target" || rd_fail "$3: cannot move it into place"
    RD_TMP=
}

# (7) Format 2: the vault is object $2 (artifact $1); decrypted as in rd_credentials_start and
# rd_credentials_open (the same messages, failures and private folder), reading the object.
rd_vault_object_start() {
    RD_VAULT=$RD_OBJECTS/${2%"${2#??}"}/$2
    [ -n "$RD_PASS" ] || return 0
    command -v openssl >/dev/null 2>&1 || return 0
    rd_vault_object_header_ok || return 0
    RD_CRED_TMP=$RD_ROOT/.restore-drill-credentials-$$
    (umask 077 && mkdir "$RD_CRED_TMP" "$RD_CRED_TMP/files") || rd_fail "credentials: cannot create $RD_CRED_TMP"
    rd_say "credentials: decrypting $1 (PBKDF2-HMAC-SHA256, $3 iterations) beside the other steps"
    (umask 077 && exec openssl enc -d -aes-256-cbc -pbkdf2 -iter "$3" -md sha256 -pass "$RD_PASS" \
        -in "$RD_VAULT" -out "$RD_CRED_TMP/vault.tar") 2>"$RD_CRED_TMP/openssl.err" &
    RD_CRED_PID=$!
}

# True when the vault object RD_VAULT starts with `Salted__`.
rd_vault_object_header_ok() {
    rd_magic=
    IFS= read -r rd_magic <"$RD_VAULT" 2>/dev/null || :
    case $rd_magic in
        Salted__*) return 0 ;;
        *) return 1 ;;
    esac
}

# Waits for the decryption rd_vault_object_start began, then unpacks the tar in the private folder.
# Returns 1 (credentials skipped) without --password-file or --password-fd.
rd_vault_object_open() {
    if [ -z "$RD_PASS" ]; then
        rd_say "credentials: skipped (no --password-file)"
        return 1
    fi
    command -v openssl >/dev/null 2>&1 || rd_fail "credentials: openssl is needed to decrypt $1"
    RD_VAULT=$RD_OBJECTS/${2%"${2#??}"}/$2
    rd_vault_object_header_ok ||
        rd_fail "credentials: $1 is not an openssl-encrypted vault (no Salted__ header): damaged or replaced"
    [ -n "$RD_CRED_PID" ] || rd_vault_object_start "$@"
    rd_rc=0
    wait "$RD_CRED_PID" || rd_rc=$?
    RD_CRED_PID=
    [ "$rd_rc" -eq 0 ] || rd_credentials_failed "$1"
    rm -f "$RD_CRED_TMP/openssl.err"
    if ! (umask 077 && tar -xpf "$RD_CRED_TMP/vault.tar" -C "$RD_CRED_TMP/files") 2>/dev/null; then
        rd_fail "credentials: wrong password or damaged vault ($1 is not an archive once decrypted)"
    fi
    rm -f "$RD_CRED_TMP/vault.tar"
}
