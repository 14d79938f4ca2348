# A small HTTP answerer for tests/e2e/net.bats: "pong" to every request, with
# a deep listen backlog so 200 connections at once all get in.
import asyncio


async def handle(r, w):
    await r.readuntil(b"\r\n\r\n")
    w.write(b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\npong\n")
    await w.drain()
    w.close()


async def main():
    s = await asyncio.start_server(handle, "0.0.0.0", 8000, backlog=1024)
    await s.serve_forever()


asyncio.run(main())
