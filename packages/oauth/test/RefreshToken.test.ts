import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import { RefreshToken } from "@warden/oauth"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import { SessionServer } from "./support/sessionServer.js"

const session = (server: SessionServer, rotated: Array<string> = []) =>
  RefreshToken.make({
    tokenEndpoint: server.url,
    clientId: "web",
    clientSecret: Redacted.make("web-secret"),
    refreshToken: Redacted.make(server.grant()),
    allowInsecureLoopback: true,
    onRotated: (token) => Effect.sync(() => rotated.push(Redacted.value(token)))
  })

describe("RefreshToken", () => {
  it.scoped("concurrent callers share one refresh: a single-use refresh token is never spent twice", () =>
    Effect.gen(function*() {
      const server = yield* SessionServer
      const rotated: Array<string> = []
      const s = yield* session(server, rotated)
      const tokens = yield* Effect.all(Array.from({ length: 500 }, () => s.token), { concurrency: "unbounded" })
      expect(server.refreshes()).toBe(1)
      expect(server.reuses()).toBe(0)
      expect(new Set(tokens.map((t) => Redacted.value(t.value))).size).toBe(1)
      expect(rotated).toHaveLength(1)
      expect(Redacted.value((yield* s.refreshToken)!)).toBe(rotated[0])
    }).pipe(Effect.provide(NodeHttpClient.layerUndici)))

  it.scoped("the rotated refresh token replaces the old one for the next refresh", () =>
    Effect.gen(function*() {
      const server = yield* SessionServer
      const rotated: Array<string> = []
      const s = yield* session(server, rotated)
      const first = yield* s.token
      yield* TestClock.adjust("241 seconds") // less than 60 s left: refresh on the next call
      const second = yield* s.token
      expect(Redacted.value(second.value)).not.toBe(Redacted.value(first.value))
      expect([server.refreshes(), server.reuses(), rotated.length]).toEqual([2, 0, 2])
    }).pipe(Effect.provide(NodeHttpClient.layerUndici)))

  it.scoped("while refreshing fails, a still-valid access token keeps serving; then the error surfaces", () =>
    Effect.gen(function*() {
      const server = yield* SessionServer
      const s = yield* session(server)
      const first = yield* s.token
      server.failWith(503)
      yield* TestClock.adjust("250 seconds")
      expect(Redacted.value((yield* s.token).value)).toBe(Redacted.value(first.value))
      yield* TestClock.adjust("60 seconds")
      const error = yield* Effect.flip(s.token)
      expect(error).toMatchObject({ _tag: "TokenError", reason: "refused" })
      expect(JSON.stringify(error)).not.toContain("web-secret")
    }).pipe(Effect.provide(NodeHttpClient.layerUndici)))

  it.scoped("a refresh token the server rejects is dropped: no_refresh_token, and it is never sent again", () =>
    Effect.gen(function*() {
      const server = yield* SessionServer
      const s = yield* RefreshToken.make({
        tokenEndpoint: server.url,
        clientId: "web",
        clientSecret: Redacted.make("web-secret"),
        refreshToken: Redacted.make("revoked-elsewhere"),
        allowInsecureLoopback: true
      })
      expect(yield* Effect.flip(s.token)).toMatchObject({ reason: "refused", error: "invalid_grant" })
      expect(yield* Effect.flip(s.token)).toMatchObject({ reason: "no_refresh_token" })
      expect(server.refreshes()).toBe(1)
      expect(yield* s.refreshToken).toBeUndefined()
    }).pipe(Effect.provide(NodeHttpClient.layerUndici)))
})
