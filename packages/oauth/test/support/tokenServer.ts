/**
 * A real OAuth token endpoint on loopback whose behaviour a test controls:
 * issue distinct tokens (with a chosen `expires_in` and `token_type`), or fail
 * in each way a token endpoint can (5xx, an OAuth error JSON, slow, hanging,
 * not JSON, a redirect, an oversized body, down). It records every request it
 * receives (method, headers, parsed form body) and every access token it puts
 * in an answer.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { randomBytes } from "node:crypto"
import type { IncomingHttpHeaders, ServerResponse } from "node:http"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"

export type Behaviour =
  /** A 200 with a fresh, distinct Bearer token (unless `tokenType` says otherwise). `expiresIn: null` omits it. */
  | {
    readonly _tag: "Issue"
    readonly expiresIn?: number | null
    readonly tokenType?: string
    readonly scope?: string
  }
  /** Any JSON answer, as given. */
  | { readonly _tag: "Json"; readonly status: number; readonly body: unknown }
  /** A status with a plain-text body (a 5xx from a proxy, say). */
  | { readonly _tag: "Status"; readonly status: number; readonly text?: string }
  /** An RFC 6749 §5.2 error answer. */
  | {
    readonly _tag: "OAuthError"
    readonly status: number
    readonly error: string
    readonly description?: string
  }
  /** Waits, then behaves as `then`. */
  | { readonly _tag: "Slow"; readonly delayMs: number; readonly then: Behaviour }
  /** Never answers. */
  | { readonly _tag: "Hang" }
  /** A 200 whose body is the given text (not JSON, say). */
  | { readonly _tag: "Garbage"; readonly text: string }
  | { readonly _tag: "Redirect"; readonly location: string; readonly status?: number }
  /** A 200 with a token answer padded to more than `bytes` bytes. */
  | { readonly _tag: "Oversized"; readonly bytes: number }

export interface RecordedRequest {
  readonly method: string
  readonly path: string
  readonly headers: IncomingHttpHeaders
  readonly body: string
  readonly form: URLSearchParams
  /** The access token put in the answer, if any. */
  readonly issued: string | undefined
}

export interface TokenServer {
  readonly url: string
  /** Sets what the endpoint does from now on. */
  readonly behave: (behaviour: Behaviour) => void
  /** Issues tokens from now on (the default, with `expires_in` 3600). */
  readonly issue: (options?: Omit<Extract<Behaviour, { _tag: "Issue" }>, "_tag">) => void
  /** How many requests the endpoint received. */
  readonly requests: () => number
  /** Every request received, in order. */
  readonly received: () => ReadonlyArray<RecordedRequest>
  /** The last request received. */
  readonly last: () => RecordedRequest
  /** Every access token the endpoint put in an answer. */
  readonly issued: () => ReadonlyArray<string>
  /** The request in answer to which `token` was issued. */
  readonly issuedFor: (token: string) => RecordedRequest | undefined
  /** Stops listening and drops every connection: from now on, connections are refused. */
  readonly down: Effect.Effect<void>
}

export const TokenServer: Effect.Effect<TokenServer, never, Scope.Scope> = Effect.acquireRelease(
  Effect.async<{ close: Effect.Effect<void>; handle: TokenServer }>((resume) => {
    let behaviour: Behaviour = { _tag: "Issue" }
    const received: Array<RecordedRequest> = []
    const issued: Array<string> = []
    const timers = new Set<ReturnType<typeof setTimeout>>()
    let sequence = 0

    const newToken = () => {
      const token = `at-${++sequence}-${randomBytes(12).toString("hex")}`
      issued.push(token)
      return token
    }

    /** Answers according to `current`; returns the access token it put in the answer, if any. */
    const answer = (res: ServerResponse, current: Behaviour, onIssued: (token: string) => void): void => {
      const json = (status: number, body: unknown) => {
        res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" })
        res.end(JSON.stringify(body))
      }
      switch (current._tag) {
        case "Issue": {
          const token = newToken()
          onIssued(token)
          const expiresIn = current.expiresIn === undefined ? 3600 : current.expiresIn
          return json(200, {
            access_token: token,
            token_type: current.tokenType ?? "Bearer",
            ...(expiresIn === null ? {} : { expires_in: expiresIn }),
            ...(current.scope === undefined ? {} : { scope: current.scope })
          })
        }
        case "Json":
          return json(current.status, current.body)
        case "Status":
          res.writeHead(current.status, { "content-type": "text/plain" })
          return void res.end(current.text ?? "upstream unavailable")
        case "OAuthError":
          return json(current.status, {
            error: current.error,
            ...(current.description === undefined ? {} : { error_description: current.description })
          })
        case "Slow": {
          const timer = setTimeout(() => {
            timers.delete(timer)
            if (!res.destroyed) answer(res, current.then, onIssued)
          }, current.delayMs)
          timers.add(timer)
          res.on("close", () => {
            clearTimeout(timer)
            timers.delete(timer)
          })
          return
        }
        case "Hang":
          return
        case "Garbage":
          res.writeHead(200, { "content-type": "application/json" })
          return void res.end(current.text)
        case "Redirect":
          res.writeHead(current.status ?? 302, { location: current.location })
          return void res.end()
        case "Oversized": {
          const token = newToken()
          onIssued(token)
          res.writeHead(200, { "content-type": "application/json" })
          return void res.end(
            JSON.stringify({ access_token: token, token_type: "Bearer", pad: "x".repeat(current.bytes) })
          )
        }
      }
    }

    const server = createServer((req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (chunk: Buffer) => chunks.push(chunk))
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8")
        const index = received.length
        received.push({
          method: req.method ?? "",
          path: req.url ?? "",
          headers: req.headers,
          body,
          form: new URLSearchParams(body),
          issued: undefined
        })
        answer(res, behaviour, (token) => {
          received[index] = { ...received[index]!, issued: token }
        })
      })
    })

    let closed = false
    const close = Effect.async<void>((done) => {
      if (closed) return done(Effect.void)
      closed = true
      for (const timer of timers) clearTimeout(timer)
      timers.clear()
      server.close(() => done(Effect.void))
      server.closeAllConnections()
    })

    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resume(Effect.succeed({
        close,
        handle: {
          url: `http://127.0.0.1:${port}/oauth2/token`,
          behave: (b) => {
            behaviour = b
          },
          issue: (options = {}) => {
            behaviour = { _tag: "Issue", ...options }
          },
          requests: () => received.length,
          received: () => received,
          last: () => {
            const last = received[received.length - 1]
            if (last === undefined) throw new Error("the token endpoint received no request")
            return last
          },
          issued: () => issued,
          issuedFor: (token) => received.find((r) => r.issued === token),
          down: close
        }
      }))
    })
  }),
  ({ close }) => close
).pipe(Effect.map(({ handle }) => handle))
