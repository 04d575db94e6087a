/**
 * Loopback networking for wire tests.
 *
 * @since 0.3.0
 */
import * as Effect from "effect/Effect"
import * as net from "node:net"

/**
 * A loopback port free at the moment of asking, for a server that must know
 * its own URL before it starts (an issuer names itself in its tokens and its
 * metadata). Another process may take the port before the server binds it.
 *
 * @since 0.3.0
 * @category constructors
 * @example
 * ```ts
 * const port = yield* TestNet.freePort
 * const issuer = `http://127.0.0.1:${port}`
 * ```
 */
export const freePort: Effect.Effect<number> = Effect.async<number>((resume) => {
  const server = net.createServer()
  server.once("error", (e) => resume(Effect.die(e)))
  server.listen(0, "127.0.0.1", () => {
    const { port } = server.address() as net.AddressInfo
    server.close(() => resume(Effect.succeed(port)))
  })
})
