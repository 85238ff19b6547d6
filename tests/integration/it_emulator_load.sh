#!/usr/bin/env bash
# timeout: 180
# labels: tsan
# it_emulator_load.sh - the fast path: ~1000 concurrent keep-alive connections doing simple
# GETs (warehouses, a Genie message) all get 200, and hostile input (huge headers, garbage, a
# truncated body) does not take the server down. The request rate is printed, not asserted:
# throughput is measured with benchmarks (docs/loadtest.md), not timed tests.
. "$SLUICE_SRC/tests/lib/common.sh"
. "$SLUICE_SRC/tests/fixtures/emulator/lib.sh"

ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
CONNS=$(( $(ulimit -n) - 200 )); [ "$CONNS" -gt 1000 ] && CONNS=1000
emu_start emu --genie-latency 0
SP=5a1e5000000000000000000000000001
req POST "/api/2.0/genie/spaces/$SP/start-conversation" '{"content":"sales by region"}'
expect_code 200
MSG_PATH="/api/2.0/genie/spaces/$SP/conversations/$(jb .conversation_id)/messages/$(jb .message_id)"
PORT=${EMU_URL##*:}

cat > "$T/load.py" <<'PY'
import asyncio, sys, time
port, conns, per, path = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
req = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer dapi-emulator\r\n\r\n" % path).encode()
counts = {}
async def one():
    r, w = await asyncio.open_connection("127.0.0.1", port)
    for _ in range(per):
        w.write(req); await w.drain()
        status = int((await r.readline()).split()[1]); clen = 0
        while True:
            h = await r.readline()
            if h in (b"\r\n", b""): break
            if h.lower().startswith(b"content-length:"): clen = int(h.split(b":")[1])
        await r.readexactly(clen)
        counts[status] = counts.get(status, 0) + 1
    w.close()
async def main():
    t = time.time()
    await asyncio.wait_for(asyncio.gather(*[one() for _ in range(conns)]), 60)
    dt = time.time() - t
    print("%s %d %.0f" % (",".join("%d=%d" % kv for kv in sorted(counts.items())), conns, conns * per / dt))
asyncio.run(main())
PY
for path in /api/2.0/sql/warehouses "$MSG_PATH"; do
  read -r codes conns rps < <(python3 "$T/load.py" "$PORT" "$CONNS" 10 "$path")
  echo "load $path: $codes over $conns connections, ${rps} req/s"
  it_expect_eq "all 200" "$codes" "200=$((CONNS * 10))"
done

# Hostile input: oversized headers, garbage, an announced body that never comes.
big=$(head -c 100000 /dev/zero | tr '\0' 'a')
CODE=$(curl -s --max-time 30 -o /dev/null -w '%{http_code}' -H "$AUTH" -H "X-Big: $big" "$EMU_URL/api/2.0/sql/warehouses" || true)
[ "$CODE" != 200 ] || it_fail "100 kB header accepted"
printf 'GARBAGE \x01\x02\r\n\r\n' | timeout 5 bash -c "cat > /dev/tcp/127.0.0.1/$PORT" || true
printf 'POST /api/2.0/sql/statements HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"a"' | timeout 5 bash -c "cat > /dev/tcp/127.0.0.1/$PORT" || true
req POST /api/2.0/sql/statements '[1,2'
expect_error 400 MALFORMED_REQUEST
req POST /api/2.0/sql/statements '"a string"'
expect_error 400 MALFORMED_REQUEST
req GET /api/2.0/sql/warehouses
expect_code 200
emu_stop_all
echo "it_emulator_load: ok"
