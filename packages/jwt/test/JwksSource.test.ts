/**
 * Fetching and decoding a JWKS, defensively: the content rules of `decode`,
 * the Cache-Control parser, and `fetch` against loopback endpoints that
 * misbehave at the HTTP level, through both an undici and a fetch-based client.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import type * as HttpClient from "@effect/platform/HttpClient"
import { describe, expect, it } from "@effect/vitest"
import { JwksSource, TokenIssuer } from "@warden/jwt"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import type * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as jose from "jose"
import { createServer } from "node:http"
import type { IncomingMessage, ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"

// --- decode ----------------------------------------------------------------------

describe("JwksSource.decode", () => {
  it.effect("a document that is not a JWK Set is refused", () =>
    Effect.sync(() => {
      for (const document of [null, undefined, 42, "keys", [], {}, { keys: {} }, { keys: "x" }, { keys: null }]) {
        expect([document, Either.isLeft(JwksSource.decode(document))]).toEqual([document, true])
      }
    }))

  it.effect("keeps public signature keys, and drops the others with why", () =>
    Effect.gen(function*() {
      const ec = yield* TokenIssuer.generateKey("ES256", "ec")
      const ed = yield* TokenIssuer.generateKey("EdDSA", "ed")
      const rsa = yield* TokenIssuer.generateKey("RS256", "rsa")
      const rsaPrivate = { kty: "RSA", kid: "rsa-private", n: "AQAB", e: "AQAB", p: "AQAB", q: "AQAB" }
      const decoded = JwksSource.decode({
        keys: [
          ec.publicJwk,
          ed.publicJwk,
          rsa.publicJwk,
          { ...ec.publicJwk, kid: "no-use", use: undefined },
          { ...ec.publicJwk, kid: "verify", key_ops: ["verify", "sign"] },
          { ...ec.publicJwk, kid: "with-d", d: "AAAA" },
          rsaPrivate,
          { kty: "oct", kid: "hmac", k: "c2VjcmV0" },
          { ...ec.publicJwk, kid: "enc", use: "enc" },
          { ...ec.publicJwk, kid: "sign-only", key_ops: ["sign"] },
          { ...ec.publicJwk, kid: "no-ops", key_ops: [] },
          { kty: "oct", kid: "oct" },
          { kty: "AKP", kid: "post-quantum" },
          { ...ec.publicJwk, kid: "" },
          { ...ec.publicJwk, kid: "k".repeat(257) },
          { ...ec.publicJwk, kid: 7 },
          "a string",
          null
        ]
      }, 60)
      expect(Either.isRight(decoded)).toBe(true)
      if (Either.isLeft(decoded)) return
      expect(decoded.right.keys.map((k) => k.kid)).toEqual(["ec", "ed", "rsa", "no-use", "verify"])
      expect(decoded.right.keys.every((k) => !("d" in k))).toBe(true)
      expect(decoded.right.dropped).toEqual([
        "private",
        "private",
        "private",
        "not_for_signatures",
        "not_for_signatures",
        "not_for_signatures",
        "unsupported",
        "unsupported",
        "unsupported",
        "unsupported",
        "unsupported",
        "unsupported",
        "unsupported"
      ])
      expect(decoded.right.maxAgeSeconds).toBe(60)
    }))

  it.effect("a key with no kid is named by its RFC 7638 thumbprint; one whose thumbprint cannot be computed is dropped", () =>
    Effect.gen(function*() {
      const ec = yield* TokenIssuer.generateKey("ES256")
      const ed = yield* TokenIssuer.generateKey("EdDSA")
      const rsa = yield* TokenIssuer.generateKey("RS256")
      const { kid: _ec, ...ecNoKid } = ec.publicJwk
      const { kid: _ed, ...edNoKid } = ed.publicJwk
      const { kid: _rsa, ...rsaNoKid } = rsa.publicJwk
      const decoded = JwksSource.decode({
        keys: [
          ecNoKid,
          edNoKid,
          rsaNoKid,
          { kty: "EC", crv: "P-256" },
          { kty: "EC", crv: "P-256", x: ecNoKid.x, y: "" },
          { kty: "OKP", crv: "Ed25519" },
          { kty: "RSA", e: "AQAB" },
          { kty: "EC", kid: "named", crv: "P-256" }
        ]
      })
      expect(Either.isRight(decoded)).toBe(true)
      if (Either.isLeft(decoded)) return
      const ids = decoded.right.keys.map(JwksSource.idOf)
      const thumbprints = yield* Effect.promise(() =>
        Promise.all([ecNoKid, edNoKid, rsaNoKid].map((jwk) => jose.calculateJwkThumbprint(jwk)))
      )
      expect(ids).toEqual([...thumbprints.map((t) => `#${t}`), "named"])
      expect(decoded.right.dropped).toEqual(["unidentifiable", "unidentifiable", "unidentifiable", "unidentifiable"])
    }))

  it.effect("Cache-Control: only a max-age directive of up to nine digits counts", () =>
    Effect.sync(() => {
      const cases: Array<[string | undefined, number | undefined]> = [
        [undefined, undefined],
        ["", undefined],
        ["max-age=120", 120],
        ["MAX-AGE=120", 120],
        ["public, max-age=120, must-revalidate", 120],
        ["public,max-age=120", 120],
        ["max-age=0", 0],
        ["max-age=999999999", 999999999],
        ["max-age=1000000000", undefined],
        ["s-maxage=120", undefined],
        ["x-max-age=120", undefined],
        ["max-age=-1", undefined],
        ["max-age=1.5", undefined],
        ["max-age=\"120\"", undefined],
        ["max-age=", undefined],
        ["no-store", undefined]
      ]
      for (const [header, expected] of cases) expect([header, JwksSource._maxAgeOf(header)]).toEqual([header, expected])
    }))
})

// --- fetch -------------------------------------------------------------------------

interface Endpoint {
  readonly url: string
  readonly requests: () => number
}

/** A loopback HTTP endpoint answering with `handler`, closed with the scope. */
const endpoint = (handler: (req: IncomingMessage, res: ServerResponse) => void) =>
  Effect.acquireRelease(
    Effect.async<{ server: ReturnType<typeof createServer>; endpoint: Endpoint }>((resume) => {
      let count = 0
      const server = createServer((req, res) => {
        count++
        handler(req, res)
      })
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        resume(Effect.succeed({ server, endpoint: { url: `http://127.0.0.1:${port}/jwks`, requests: () => count } }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ endpoint }) => endpoint))

const jwksBody = Effect.map(TokenIssuer.generateKey("ES256", "k"), (key) => JSON.stringify(TokenIssuer.jwks([key])))

const outcome = (exit: Exit.Exit<JwksSource.KeySet, JwksSource.JwksFetchError>) =>
  Exit.isSuccess(exit) ?
    `ok: ${exit.value.keys.map((k) => k.kid).join(",")}` :
    exit.cause._tag === "Fail" ?
    exit.cause.error.reason :
    `defect: ${exit.cause._tag}`

const clients: ReadonlyArray<[string, Layer.Layer<HttpClient.HttpClient>]> = [
  ["undici", NodeHttpClient.layerUndici],
  ["fetch", FetchHttpClient.layer]
]

for (const [clientName, client] of clients) {
  describe(`JwksSource.fetch (${clientName} client)`, () => {
    const fetch = (url: string, options: JwksSource.FetchOptions = {}) =>
      Effect.exit(JwksSource.fetch(url, { allowInsecureLoopback: true, ...options })).pipe(Effect.provide(client))

    it.scoped("a JWKS served with 200 decodes, with its max-age", () =>
      Effect.gen(function*() {
        const body = yield* jwksBody
        const server = yield* endpoint((_, res) => {
          res.writeHead(200, { "content-type": "application/json", "cache-control": "public, max-age=300" })
          res.end(body)
        })
        const exit = yield* fetch(server.url)
        expect(outcome(exit)).toBe("ok: k")
        expect(Exit.isSuccess(exit) && exit.value.maxAgeSeconds).toBe(300)
      }))

    it.scoped("a body of exactly maxBytes is accepted; one byte more is too_large, declared or streamed", () =>
      Effect.gen(function*() {
        const body = yield* jwksBody
        const padded = body.slice(0, -1) + `,"pad":"${"x".repeat(1000)}"}`
        const size = Buffer.byteLength(padded)
        const declared = yield* endpoint((_, res) => {
          res.writeHead(200, { "content-type": "application/json", "content-length": String(size) })
          res.end(padded)
        })
        const streamed = yield* endpoint((_, res) => {
          // No content-length: chunked, in pieces, so only counting the stream can tell.
          res.writeHead(200, { "content-type": "application/json" })
          for (let i = 0; i < padded.length; i += 100) res.write(padded.slice(i, i + 100))
          res.end()
        })
        for (const server of [declared, streamed]) {
          expect(outcome(yield* fetch(server.url, { maxBytes: size }))).toBe("ok: k")
          expect(outcome(yield* fetch(server.url, { maxBytes: size - 1 }))).toBe("too_large")
        }
      }))

    it.scoped("a declared content-length over maxBytes is refused even if the body is short", () =>
      Effect.gen(function*() {
        const server = yield* endpoint((_, res) => {
          res.writeHead(200, { "content-type": "application/json", "content-length": "100000000" })
          res.write("{\"keys\":[]}")
          // Never ends: the refusal must not wait for the body.
        })
        expect(outcome(yield* fetch(server.url, { maxBytes: 1024 }))).toBe("too_large")
      }))

    it.scoped("every 3xx is a redirect, and is not followed", () =>
      Effect.gen(function*() {
        const body = yield* jwksBody
        const target = yield* endpoint((_, res) => {
          res.writeHead(200, { "content-type": "application/json" })
          res.end(body)
        })
        for (const status of [301, 302, 303, 307, 308]) {
          const server = yield* endpoint((_, res) => {
            res.writeHead(status, { location: target.url })
            res.end()
          })
          expect([status, outcome(yield* fetch(server.url))]).toEqual([status, "redirect"])
          expect(server.requests()).toBe(1)
        }
        expect(target.requests()).toBe(0)
      }))

    it.scoped("any status but 200 is refused, and the message never carries the body", () =>
      Effect.gen(function*() {
        for (const status of [201, 204, 400, 401, 404, 500, 503]) {
          const server = yield* endpoint((_, res) => {
            res.writeHead(status, { "content-type": "application/json" })
            res.end(status === 204 ? undefined : "{\"keys\":[],\"secret\":\"SECRET-BODY\"}")
          })
          const exit = yield* fetch(server.url)
          expect([status, outcome(exit)]).toEqual([status, "status"])
          expect(Exit.isFailure(exit) && JSON.stringify(exit.cause)).not.toContain("SECRET-BODY")
        }
      }))

    it.scoped("a body that is not UTF-8, not JSON, or not a JWKS is invalid", () =>
      Effect.gen(function*() {
        const bodies: ReadonlyArray<Buffer> = [
          Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
          Buffer.from("SECRET-BODY <html>"),
          Buffer.from(""),
          Buffer.from("{\"keys\":{\"SECRET-BODY\":1}}"),
          Buffer.from("\"SECRET-BODY\"")
        ]
        for (const body of bodies) {
          const server = yield* endpoint((_, res) => {
            res.writeHead(200, { "content-type": "application/json" })
            res.end(body)
          })
          const exit = yield* fetch(server.url)
          expect([body.toString("hex"), outcome(exit)]).toEqual([body.toString("hex"), "invalid"])
          expect(Exit.isFailure(exit) && JSON.stringify(exit.cause)).not.toContain("SECRET-BODY")
        }
      }))

    it.scoped("a response that breaks off, or a connection refused, is a transport failure", () =>
      Effect.gen(function*() {
        const broken = yield* endpoint((_, res) => {
          res.writeHead(200, { "content-type": "application/json" })
          res.write("{\"keys\":[")
          setTimeout(() => res.destroy(), 20)
        })
        expect(outcome(yield* fetch(broken.url))).toBe("transport")

        const scope = yield* Scope.make()
        const closed = yield* Scope.extend(endpoint((_, res) => res.end()), scope)
        yield* Scope.close(scope, Exit.void)
        expect(outcome(yield* fetch(closed.url))).toBe("transport")
        expect(closed.requests()).toBe(0)
      }))

    it.scopedLive("an endpoint slower than the timeout fails with timeout, in about the timeout", () =>
      Effect.gen(function*() {
        const body = yield* jwksBody
        const server = yield* endpoint((req, res) => {
          const timer = setTimeout(() => res.end(body), 2_000)
          req.on("close", () => clearTimeout(timer))
        })
        const started = Date.now()
        expect(outcome(yield* fetch(server.url, { timeout: "200 millis" }))).toBe("timeout")
        const elapsed = Date.now() - started
        expect(elapsed).toBeGreaterThanOrEqual(150)
        expect(elapsed).toBeLessThan(1_500)
      }))

    it.scoped("an insecure URL is refused before any request", () =>
      Effect.gen(function*() {
        const server = yield* endpoint((_, res) => res.end("{\"keys\":[]}"))
        expect(outcome(yield* fetch(server.url, { allowInsecureLoopback: false }))).toBe("insecure_url")
        expect(outcome(yield* fetch(server.url.replace("127.0.0.1", "example.com")))).toBe("insecure_url")
        expect(server.requests()).toBe(0)
      }))
  })
}
