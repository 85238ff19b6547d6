#!/usr/bin/env bash
# timeout: 240
# it_emulator_files.sh - the Files API on volumes: upload (overwrite rules), download with
# Range, HEAD metadata, directories (mkdir -p, paged listing, delete only when empty),
# path validation, and a 512 MiB upload/download that must not grow the server's memory.
. "$SLUICE_SRC/tests/lib/common.sh"
. "$SLUICE_SRC/tests/fixtures/emulator/lib.sh"

emu_start emu
F="$EMU_URL/api/2.0/fs/files"
D="$EMU_URL/api/2.0/fs/directories"
sql_ok "CREATE VOLUME main.default.vol"

put() { CODE=$(curl -sS -o "$T/body" -w '%{http_code}' -X PUT -H "$AUTH" --data-binary "$1" "$F$2"); }
printf 'hello, world\n' > "$T/a.txt"
put "@$T/a.txt" "/Volumes/main/default/vol/dir/sub/a%20b.txt"
expect_code 204
put "@$T/a.txt" "/Volumes/main/default/vol/dir/sub/a%20b.txt?overwrite=false"
expect_error 409 ALREADY_EXISTS
printf 'HELLO, WORLD\n' > "$T/b.txt"
put "@$T/b.txt" "/Volumes/main/default/vol/dir/sub/a%20b.txt?overwrite=true"
expect_code 204
CODE=$(curl -sS -o "$T/dl" -D "$T/hdr" -w '%{http_code}' -H "$AUTH" "$F/Volumes/main/default/vol/dir/sub/a%20b.txt")
expect_code 200
cmp -s "$T/dl" "$T/b.txt" || it_fail "download differs"
grep -qi '^Content-Length: 13' "$T/hdr" || it_fail "Content-Length"
grep -qi '^Content-Type: application/octet-stream' "$T/hdr" || it_fail "Content-Type"
grep -qi '^Last-Modified: .*GMT' "$T/hdr" || it_fail "Last-Modified"
CODE=$(curl -sS -o "$T/dl" -D "$T/hdr" -w '%{http_code}' -H "$AUTH" -H 'Range: bytes=7-11' "$F/Volumes/main/default/vol/dir/sub/a%20b.txt")
expect_code 206
it_expect_eq "range body" "$(cat "$T/dl")" WORLD
grep -qi '^Content-Range: bytes 7-11/13' "$T/hdr" || it_fail "Content-Range"
CODE=$(curl -sS -o "$T/dl" -w '%{http_code}' -H "$AUTH" -H 'Range: bytes=-3' "$F/Volumes/main/default/vol/dir/sub/a%20b.txt")
it_expect_eq "suffix range" "$CODE:$(od -An -c "$T/dl" | tr -d ' ')" '206:LD\n'
CODE=$(curl -sS -o "$T/body" -w '%{http_code}' -H "$AUTH" -H 'Range: bytes=100-' "$F/Volumes/main/default/vol/dir/sub/a%20b.txt")
expect_code 416
CODE=$(curl -sS -I -o "$T/hdr" -w '%{http_code}' -H "$AUTH" "$F/Volumes/main/default/vol/dir/sub/a%20b.txt")
expect_code 200
grep -qi '^Content-Length: 13' "$T/hdr" || it_fail "HEAD Content-Length"
CODE=$(curl -sS -o /dev/null -w '%{http_code}' -H "$AUTH" -H 'If-Unmodified-Since: Mon, 01 Jan 2001 00:00:00 GMT' "$F/Volumes/main/default/vol/dir/sub/a%20b.txt")
expect_code 412
CODE=$(curl -sS -o /dev/null -w '%{http_code}' -H "$AUTH" -H 'If-Unmodified-Since: Fri, 01 Jan 2100 00:00:00 GMT' "$F/Volumes/main/default/vol/dir/sub/a%20b.txt")
expect_code 200
CODE=$(curl -sS -I -o /dev/null -w '%{http_code}' -H "$AUTH" "$F/Volumes/main/default/vol/nope.txt")
expect_code 404

# directories: mkdir -p, HEAD, paged listing, delete rules
req PUT /api/2.0/fs/directories/Volumes/main/default/vol/x/y/z
expect_code 204
req PUT /api/2.0/fs/directories/Volumes/main/default/vol/x/y/z
expect_code 204
CODE=$(curl -sS -I -o /dev/null -w '%{http_code}' -H "$AUTH" "$D/Volumes/main/default/vol/x/y")
expect_code 200
for i in 1 2 3 4 5; do put "@$T/a.txt" "/Volumes/main/default/vol/x/f$i.csv"; expect_code 204; done
names=(); token=""
while :; do
  req GET "/api/2.0/fs/directories/Volumes/main/default/vol/x?page_size=2${token:+&page_token=$token}"
  expect_code 200
  [ "$(jb '.contents | length')" -le 2 ] || it_fail "page too large"
  names+=($(jb '.contents[].name'))
  token=$(jb '.next_page_token // empty')
  [ -n "$token" ] || break
done
it_expect_eq "listing" "${names[*]}" "f1.csv f2.csv f3.csv f4.csv f5.csv y"
req GET "/api/2.0/fs/directories/Volumes/main/default/vol/x?page_size=10"
it_expect_eq "entry" "$(jb -c '.contents[0] | [.path, .is_directory, .file_size]')" '["/Volumes/main/default/vol/x/f1.csv",false,13]'
it_expect_eq "dir entry" "$(jb -c '.contents[5] | [.is_directory, has("file_size"), (.last_modified > 0)]')" '[true,false,true]'
req DELETE /api/2.0/fs/directories/Volumes/main/default/vol/x/y
expect_code 400
req DELETE /api/2.0/fs/directories/Volumes/main/default/vol/x/y/z
expect_code 204
req DELETE /api/2.0/fs/files/Volumes/main/default/vol/x/f1.csv
expect_code 204
req DELETE /api/2.0/fs/files/Volumes/main/default/vol/x/f1.csv
expect_error 404 NOT_FOUND
req GET /api/2.0/fs/directories/Volumes/main/default/vol/nope
expect_error 404 NOT_FOUND

# path validation
req GET "/api/2.0/fs/files/Volumes/main/default/vol/../../../etc/passwd"
expect_error 400 INVALID_PARAMETER_VALUE
req GET "/api/2.0/fs/files/Volumes/main/default/vol/a%00b"
expect_error 400 INVALID_PARAMETER_VALUE
req GET "/api/2.0/fs/files/etc/passwd"
expect_error 400 INVALID_PARAMETER_VALUE
req GET "/api/2.0/fs/files/Volumes/main/default/novol/a.txt"
expect_error 404 NOT_FOUND
put "@$T/a.txt" "/Volumes/main/default/novol/a.txt"
expect_code 404

# a big upload streams to disk: the server's peak RSS grows far less than the file
size_mb=512
truncate -s ${size_mb}M "$T/big.bin"
printf 'tail-marker' >> "$T/big.bin"
before=$(vm_hwm_kb "$EMU_PID")
put "@$T/big.bin" "/Volumes/main/default/vol/big.bin"
expect_code 204
CODE=$(curl -sS -o "$T/big.dl" -w '%{http_code}' -H "$AUTH" "$F/Volumes/main/default/vol/big.bin")
expect_code 200
cmp -s "$T/big.bin" "$T/big.dl" || it_fail "big download differs"
after=$(vm_hwm_kb "$EMU_PID")
echo "peak RSS before ${before} kB, after ${after} kB for a ${size_mb} MiB round trip"
[ $((after - before)) -lt $((96 * 1024)) ] || it_fail "peak RSS grew by $((after - before)) kB"
rm -f "$T/big.bin" "$T/big.dl"
curl -sf "$EMU_URL/_emulator/stats" -o "$T/body"
it_expect_eq "upload stats" "$(jb '.uploads["/Volumes/main/default/vol/big.bin"].bytes')" $((size_mb * 1024 * 1024 + 11))
it_expect_eq "upload count" "$(jb '.uploads["/Volumes/main/default/vol/dir/sub/a b.txt"].count')" 2
emu_stop_all
echo "it_emulator_files: ok"
