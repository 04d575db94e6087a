/**
 * A loopback token endpoint for the refresh-token grant that behaves like a
 * strict authorization server: each refresh token works once, a reused one is
 * `invalid_grant`, and each refresh rotates it.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"

export interface SessionServer {
  readonly url: string
  /** Issues a fresh refresh token the server will accept once. */
  readonly grant: () => string
  /** Refresh requests received. */
  readonly refreshes: () => number
  /** Refresh tokens presented after they were used (a real server would revoke the session). */
  readonly reuses: () => number
  /** Answer every request with this status from now on (0 = normal). */
  readonly failWith: (status: number) => void
}

export const SessionServer: Effect.Effect<SessionServer, never, Scope.Scope> = Effect.map(
  Effect.acquireRelease(
    Effect.async<{ server: ReturnType<typeof createServer>; handle: SessionServer }>((resume) => {
      const live = new Set<string>()
      const used = new Set<string>()
      let next = 0
      let refreshes = 0
      let reuses = 0
      let failing = 0
      const fresh = (prefix: string) => `${prefix}-${next++}`
      const server = createServer((req, res) => {
        let body = ""
        req.on("data", (chunk: Buffer) => {
          body += chunk.toString("utf8")
        })
        req.on("end", () => {
          const form = new URLSearchParams(body)
          const answer = (status: number, json: unknown) => {
            res.writeHead(status, { "content-type": "application/json" })
            res.end(JSON.stringify(json))
          }
          if (failing !== 0) return answer(failing, { error: "server_error" })
          if (form.get("grant_type") !== "refresh_token") return answer(400, { error: "unsupported_grant_type" })
          refreshes++
          const presented = form.get("refresh_token") ?? ""
          if (!live.has(presented)) {
            if (used.has(presented)) reuses++
            return answer(400, { error: "invalid_grant" })
          }
          live.delete(presented)
          used.add(presented)
          const rotated = fresh("rt")
          live.add(rotated)
          // A little latency, so concurrent callers overlap with the request in flight.
          setTimeout(
            () =>
              answer(200, {
                access_token: fresh("at"),
                token_type: "Bearer",
                expires_in: 300,
                refresh_token: rotated
              }),
            20
          )
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        resume(Effect.succeed({
          server,
          handle: {
            url: `http://127.0.0.1:${port}/token`,
            grant: () => {
              const token = fresh("rt")
              live.add(token)
              return token
            },
            refreshes: () => refreshes,
            reuses: () => reuses,
            failWith: (status) => {
              failing = status
            }
          }
        }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  ),
  ({ handle }) => handle
)
