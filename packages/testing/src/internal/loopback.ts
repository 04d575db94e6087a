/**
 * A bounded HTTP server on 127.0.0.1 (a free port) whose requests are handled
 * by Effects run with the services of the fiber that started it, its Clock
 * among them (so a TestClock stamps what it issues). It stops with its scope:
 * the server closes and every connection is dropped, then request fibers are
 * interrupted.
 */
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import type * as Scope from "effect/Scope"
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"

export interface Request {
  readonly method: string
  readonly path: string
  readonly headers: IncomingHttpHeaders
  readonly body: Buffer
}

export interface Reply {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

export const json = (status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): Reply => ({
  status,
  headers: { "content-type": "application/json", ...headers },
  body: JSON.stringify(body)
})

/** The most body a request may have; more is answered 413 and the connection dropped. */
const maxBodyBytes = 16 * 1024

const readBody = (req: IncomingMessage): Effect.Effect<Buffer | undefined> =>
  Effect.async<Buffer | undefined>((resume) => {
    const chunks: Array<Buffer> = []
    let size = 0
    const done = (body: Buffer | undefined) => {
      req.off("data", onData)
      req.off("end", onEnd)
      req.off("error", onError)
      resume(Effect.succeed(body))
    }
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size > maxBodyBytes) done(undefined)
      else chunks.push(chunk)
    }
    const onEnd = () => done(Buffer.concat(chunks))
    const onError = () => done(undefined)
    req.on("data", onData)
    req.on("end", onEnd)
    req.on("error", onError)
    return Effect.sync(() => {
      req.off("data", onData)
      req.off("end", onEnd)
      req.off("error", onError)
    })
  })

const pathOf = (url: string | undefined): string => {
  try {
    return new URL(url ?? "/", "http://127.0.0.1").pathname
  } catch {
    return "(malformed)"
  }
}

const write = (res: ServerResponse, reply: Reply): void => {
  if (res.headersSent || res.destroyed) return
  res.writeHead(reply.status, { ...reply.headers, "content-length": Buffer.byteLength(reply.body) })
  res.end(reply.body)
}

/** Serves `handle` on a free loopback port until the scope closes; returns the port. */
export const serve = (handle: (request: Request) => Effect.Effect<Reply>): Effect.Effect<number, never, Scope.Scope> =>
  Effect.gen(function*() {
    // Created first, so closed last: request fibers are interrupted after the server has stopped.
    const run = yield* FiberSet.makeRuntimePromise<never>()
    const server = createServer()
    server.headersTimeout = 5_000
    server.requestTimeout = 10_000
    server.on("request", (req: IncomingMessage, res: ServerResponse) => {
      const handled = Effect.flatMap(readBody(req), (body) =>
        body === undefined ?
          Effect.sync(() => {
            write(res, json(413, { error: "request_too_large" }, { connection: "close" }))
            req.destroy()
          }) :
          Effect.map(
            handle({ method: req.method ?? "", path: pathOf(req.url), headers: req.headers, body }),
            (reply) => write(res, reply)
          ))
      run(handled).catch(() => {
        // Interrupted because the server is stopping: never leave a request hanging.
        if (!res.headersSent) write(res, json(503, { error: "unavailable" }, { connection: "close" }))
        else res.destroy()
      })
    })
    return yield* Effect.acquireRelease(
      Effect.async<number>((resume) => {
        server.listen(0, "127.0.0.1", () => resume(Effect.succeed((server.address() as AddressInfo).port)))
      }),
      () =>
        Effect.async<void>((resume) => {
          server.close(() => resume(Effect.void))
          server.closeAllConnections()
        })
    )
  })
