/**
 * A real JWKS endpoint on loopback whose behaviour a test controls: serve a
 * key set (with an optional Cache-Control), or fail in each way an endpoint
 * can (5xx, slow, redirect, garbage, oversized, down). Counts requests.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"

export type Behaviour =
  | { readonly _tag: "Serve"; readonly body: unknown; readonly cacheControl?: string }
  | { readonly _tag: "Status"; readonly status: number }
  | { readonly _tag: "Slow"; readonly delayMs: number; readonly body: unknown }
  | { readonly _tag: "Redirect"; readonly location: string }
  | { readonly _tag: "Garbage"; readonly text: string }
  | { readonly _tag: "Oversized"; readonly bytes: number }
  | { readonly _tag: "Hang" }

export interface JwksServer {
  readonly url: string
  /** Sets what the endpoint does from now on. */
  readonly behave: (behaviour: Behaviour) => void
  /** Serves a key set. */
  readonly serve: (body: unknown, cacheControl?: string) => void
  /** How many requests the endpoint received. */
  readonly requests: () => number
}

export const JwksServer: Effect.Effect<JwksServer, never, Scope.Scope> = Effect.acquireRelease(
  Effect.async<{ server: ReturnType<typeof createServer>; handle: JwksServer }>((resume) => {
    let behaviour: Behaviour = { _tag: "Serve", body: { keys: [] } }
    let count = 0
    const server = createServer((req, res) => {
      count++
      const current = behaviour
      const json = (body: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(200, { "content-type": "application/json", ...headers })
        res.end(JSON.stringify(body))
      }
      switch (current._tag) {
        case "Serve":
          return json(current.body, current.cacheControl === undefined ? {} : { "cache-control": current.cacheControl })
        case "Status":
          res.writeHead(current.status)
          return res.end("error")
        case "Slow": {
          const timer = setTimeout(() => json(current.body), current.delayMs)
          req.on("close", () => clearTimeout(timer))
          return
        }
        case "Redirect":
          res.writeHead(302, { location: current.location })
          return res.end()
        case "Garbage":
          res.writeHead(200, { "content-type": "application/json" })
          return res.end(current.text)
        case "Oversized":
          res.writeHead(200, { "content-type": "application/json" })
          return res.end(`{"keys":[],"pad":"${"x".repeat(current.bytes)}"}`)
        case "Hang":
          return
      }
    })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resume(Effect.succeed({
        server,
        handle: {
          url: `http://127.0.0.1:${port}/jwks`,
          behave: (b) => {
            behaviour = b
          },
          serve: (body, cacheControl) => {
            behaviour = cacheControl === undefined ? { _tag: "Serve", body } : { _tag: "Serve", body, cacheControl }
          },
          requests: () => count
        }
      }))
    })
  }),
  ({ server }) =>
    Effect.async<void>((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
).pipe(Effect.map(({ handle }) => handle))
