import { describe, expect, it } from "@effect/vitest"
import { RevocationStore } from "@warden/jwt"
import { LoginThrottle, Password, RefreshStore, TokenService, UserStore } from "@warden/token-service"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import * as jose from "jose"

const cheap: Password.Cost = { N: 2 ** 10, r: 8, p: 1 }
const issuer = "https://id.shop.test"
const web: TokenService.Client = {
  clientId: "web",
  secret: Redacted.make("web-secret"),
  grants: ["password", "refresh_token"]
}
const reports: TokenService.Client = {
  clientId: "reports",
  secret: Redacted.make("reports-secret"),
  grants: ["client_credentials"],
  scope: "stock.read",
  tenant: "acme",
  tenants: ["globex"],
  accessLifetime: "30 seconds"
}

const orders: TokenService.Client = {
  clientId: "orders",
  secret: Redacted.make("orders-secret"),
  grants: [TokenService.tokenExchange]
}
const inventoryClient: TokenService.Client = {
  clientId: "inventory",
  secret: Redacted.make("inventory-secret"),
  grants: [TokenService.tokenExchange]
}

/** The service with `options` over alice, memory refresh families and memory revocations. */
const serviceOf = (options: Omit<TokenService.Options, "issuer" | "audience">) =>
  TokenService.layer({ issuer, audience: "https://inventory.shop.test", ...options }).pipe(
    Layer.provideMerge(Layer.mergeAll(
      UserStore.layerMemory([{
        username: "alice",
        password: Redacted.make("wonderland 42"),
        subject: "u-alice",
        tenant: "acme",
        tenants: ["globex"],
        scope: "orders.read orders.write stock.read"
      }], cheap),
      RefreshStore.layerMemory,
      RevocationStore.layerMemory
    ))
  )

const Live = serviceOf({
  audiences: ["https://orders.shop.test", "https://billing.shop.test"],
  clients: [web, reports, orders, inventoryClient],
  failuresBeforeBackoff: 3,
  backoff: "10 seconds"
})

const login = (password = "wonderland 42", scope?: string) =>
  Effect.flatMap(TokenService.TokenService, (s) =>
    s.token(web, {
      grant_type: "password",
      username: "alice",
      password: Redacted.make(password),
      ...(scope === undefined ? {} : { scope })
    }))

const refresh = (token: string) =>
  Effect.flatMap(
    TokenService.TokenService,
    (s) => s.token(web, { grant_type: "refresh_token", refresh_token: Redacted.make(token) })
  )

const claimsOf = (token: string) =>
  Effect.gen(function*() {
    const set = yield* Effect.flatMap(TokenService.TokenService, (s) => s.jwks)
    const now = yield* Clock.currentTimeMillis
    return yield* Effect.promise(() =>
      jose.jwtVerify(token, jose.createLocalJWKSet(set as jose.JSONWebKeySet), {
        issuer,
        typ: "at+jwt",
        currentDate: new Date(now)
      })
    )
  })

/** Whether the shared revocation store refuses the access token. */
const revoked = (token: string) =>
  Effect.gen(function*() {
    const { payload } = yield* claimsOf(token)
    const store = yield* RevocationStore.RevocationStore
    return yield* store.isRevoked({
      issuer,
      tokenId: payload.jti!,
      subject: payload.sub!,
      issuedAt: payload.iat ?? null
    })
  })

describe("Password", () => {
  it.effect("verifies the password it hashed, and nothing else; a salt per hash", () =>
    Effect.gen(function*() {
      const stored = yield* Password.hash(Redacted.make("correct horse"), cheap)
      expect(stored).toMatch(/^scrypt\$1024\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/)
      expect(yield* Password.verify(Redacted.make("correct horse"), stored)).toBe(true)
      expect(yield* Password.verify(Redacted.make("correct horsE"), stored)).toBe(false)
      expect(yield* Password.hash(Redacted.make("correct horse"), cheap)).not.toBe(stored)
      // A string that is not one of its hashes matches nothing, and costs no defect.
      for (const bad of ["", "scrypt$3$8$1$aa$bb", "bcrypt$10$x", "scrypt$1024$8$1$c2FsdA$c2hvcnQ"]) {
        expect(yield* Password.verify(Redacted.make("x"), bad)).toBe(false)
      }
      expect(yield* Password.verifyOrNothing(Redacted.make("correct horse"), undefined)).toBe(false)
    }))
})

describe("TokenService", () => {
  it.effect("a login gives an RFC 9068 access token and an opaque refresh token", () =>
    Effect.gen(function*() {
      const pair = yield* login()
      expect(pair).toMatchObject({
        token_type: "Bearer",
        expires_in: 300,
        scope: "orders.read orders.write stock.read"
      })
      expect(pair.refresh_token).toMatch(/^rt_[A-Za-z0-9_-]{43}$/)
      const { payload, protectedHeader } = yield* claimsOf(pair.access_token)
      expect(protectedHeader.typ).toBe("at+jwt")
      expect(payload).toMatchObject({
        iss: issuer,
        sub: "u-alice",
        aud: "https://inventory.shop.test",
        client_id: "web",
        tid: "acme",
        tenants: ["acme", "globex"]
      })
      expect(typeof payload.jti).toBe("string")
      expect(payload.exp! - payload.iat!).toBe(300)
      const narrowed = yield* login("wonderland 42", "stock.read")
      expect(narrowed.scope).toBe("stock.read")
      expect((yield* Effect.flip(login("wonderland 42", "admin"))).error).toBe("invalid_scope")
      // A client that may not refresh gets no refresh token (and its token belongs to no session).
      const service = yield* TokenService.TokenService
      const kiosk = { ...web, clientId: "kiosk", grants: ["password"] as const }
      const alone = yield* service.token(kiosk, {
        grant_type: "password",
        username: "alice",
        password: Redacted.make("wonderland 42")
      })
      expect(alone.refresh_token).toBeUndefined()
      expect((yield* claimsOf(alone.access_token)).payload).not.toHaveProperty("sid")
    }).pipe(Effect.provide(Live)))

  it.effect("a wrong password and an unknown user get the same answer; backoff follows repeated failures", () =>
    Effect.gen(function*() {
      const wrong = yield* Effect.flip(login("guess"))
      const service = yield* TokenService.TokenService
      const unknown = yield* Effect.flip(service.token(web, {
        grant_type: "password",
        username: "mallory",
        password: Redacted.make("guess")
      }))
      expect([wrong.error, wrong.description]).toEqual([unknown.error, unknown.description])
      yield* Effect.flip(login("guess 2"))
      yield* Effect.flip(login("guess 3"))
      // Three failures: even the right password is refused for the window, which doubles with each failure.
      expect((yield* Effect.flip(login())).description).toContain("too many failed logins")
      yield* TestClock.adjust("10 seconds")
      yield* Effect.flip(login("guess 4"))
      yield* TestClock.adjust("10 seconds")
      expect((yield* Effect.flip(login())).description).toContain("too many failed logins")
      yield* TestClock.adjust("10 seconds")
      expect((yield* login()).token_type).toBe("Bearer")
      // A success clears the count.
      expect((yield* Effect.flip(login("guess 5"))).description).toBe("the username or password is wrong")
    }).pipe(Effect.provide(Live)))

  it.effect("a login throttle that cannot answer refuses the login: temporarily_unavailable, never unthrottled", () =>
    Effect.gen(function*() {
      const down = new LoginThrottle.LoginThrottleUnavailable({ message: "down" })
      const failing = Layer.succeed(LoginThrottle.LoginThrottle, {
        failures: () => Effect.fail(down),
        recordFailure: () => Effect.fail(down),
        clear: () => Effect.fail(down)
      })
      const refused = yield* Effect.flip(login()).pipe(Effect.provide(Layer.provide(Live, failing)))
      expect([refused.error, refused.status]).toEqual(["temporarily_unavailable", 503])
    }))

  it.effect("a refresh rotates: the old refresh token is used up, the new one works", () =>
    Effect.gen(function*() {
      const first = yield* login()
      const second = yield* refresh(first.refresh_token!)
      expect(second.refresh_token).not.toBe(first.refresh_token)
      const third = yield* refresh(second.refresh_token!)
      expect((yield* claimsOf(third.access_token)).payload.sub).toBe("u-alice")
      // The session id ties every access token of the family.
      const sids = yield* Effect.forEach([first, second, third], (p) =>
        Effect.map(claimsOf(p.access_token), (c) => c.payload["sid"]))
      expect(new Set(sids).size).toBe(1)
    }).pipe(Effect.provide(Live)))

  it.effect("a reused refresh token revokes its whole family, every access token of it included", () =>
    Effect.gen(function*() {
      const first = yield* login()
      const second = yield* refresh(first.refresh_token!)
      // An attacker replays the first refresh token.
      expect((yield* Effect.flip(refresh(first.refresh_token!))).error).toBe("invalid_grant")
      // The legitimate holder's current refresh token is dead too, and both access tokens are revoked.
      expect((yield* Effect.flip(refresh(second.refresh_token!))).error).toBe("invalid_grant")
      expect(yield* revoked(first.access_token)).toBe(true)
      expect(yield* revoked(second.access_token)).toBe(true)
      // Another session of the same user is untouched.
      const other = yield* login()
      expect(yield* revoked(other.access_token)).toBe(false)
      expect((yield* refresh(other.refresh_token!)).token_type).toBe("Bearer")
    }).pipe(Effect.provide(Live)))

  it.effect("of concurrent refreshes with one refresh token exactly one wins, and the family does not survive", () =>
    Effect.gen(function*() {
      const first = yield* login()
      const results = yield* Effect.forEach(
        Array.from({ length: 8 }, () => first.refresh_token!),
        (t) => Effect.either(refresh(t)),
        { concurrency: "unbounded" }
      )
      const won = results.filter((r) => r._tag === "Right")
      expect(won).toHaveLength(1)
      expect(
        results.filter((r) => r._tag === "Left").every((r) => r._tag === "Left" && r.left.error === "invalid_grant")
      )
        .toBe(true)
      // The others were reuse: the winner's new refresh token is revoked with the family.
      const winner = won[0]!
      if (winner._tag === "Right") {
        expect((yield* Effect.flip(refresh(winner.right.refresh_token!))).error).toBe("invalid_grant")
      }
    }).pipe(Effect.provide(Live)))

  it.effect("a single refresh, not raced, keeps the family", () =>
    Effect.gen(function*() {
      const first = yield* login()
      const second = yield* refresh(first.refresh_token!)
      expect(yield* revoked(first.access_token)).toBe(false)
      expect((yield* refresh(second.refresh_token!)).token_type).toBe("Bearer")
    }).pipe(Effect.provide(Live)))

  it.effect("logout with the refresh token or the access token revokes the family and its access tokens", () =>
    Effect.gen(function*() {
      const service = yield* TokenService.TokenService
      const a = yield* login()
      const a2 = yield* refresh(a.refresh_token!)
      yield* service.revoke(web, Redacted.make(a2.refresh_token!))
      expect(yield* revoked(a.access_token)).toBe(true)
      expect(yield* revoked(a2.access_token)).toBe(true)
      expect((yield* Effect.flip(refresh(a2.refresh_token!))).error).toBe("invalid_grant")
      const b = yield* login()
      yield* service.revoke(web, Redacted.make(b.access_token))
      expect(yield* revoked(b.access_token)).toBe(true)
      expect((yield* Effect.flip(refresh(b.refresh_token!))).error).toBe("invalid_grant")
      // RFC 7009: a token it does not know is no error.
      yield* service.revoke(web, Redacted.make("rt_unknown"))
      yield* service.revoke(web, Redacted.make("not.a.jwt"))
    }).pipe(Effect.provide(Live)))

  it.effect("client credentials: the client's own token, for its tenant and within its scope", () =>
    Effect.gen(function*() {
      const service = yield* TokenService.TokenService
      const client = yield* service.authenticateClient("reports", Redacted.make("reports-secret"))
      const token = yield* service.token(client, {
        grant_type: "client_credentials",
        resource: "https://orders.shop.test"
      })
      expect(token.refresh_token).toBeUndefined()
      const { payload } = yield* claimsOf(token.access_token)
      // RFC 9068 §2.2: with no resource owner, `sub` is the client (which Warden reads as a service).
      expect(payload).toMatchObject({
        sub: "reports",
        client_id: "reports",
        tid: "acme",
        tenants: ["acme", "globex"],
        scope: "stock.read",
        aud: "https://orders.shop.test"
      })
      // The client's own lifetime, not the service's five minutes.
      expect([token.expires_in, payload.exp! - payload.iat!]).toEqual([30, 30])
      // None allowed and none asked for: no scope claim at all (an empty one is malformed, RFC 6749 §3.3).
      const { scope: _, ...bare } = client
      const none = yield* service.token(bare, { grant_type: "client_credentials" })
      expect((yield* claimsOf(none.access_token)).payload).not.toHaveProperty("scope")
      // A scope parameter that is not one or more scope-tokens, one space apart, is refused.
      for (const scope of ["", "stock.read  stock.read", " stock.read", "stock.read\u0000"]) {
        expect((yield* Effect.flip(service.token(client, { grant_type: "client_credentials", scope }))).error).toBe(
          "invalid_scope"
        )
      }
      expect((yield* Effect.flip(service.authenticateClient("reports", Redacted.make("nope")))).error).toBe(
        "invalid_client"
      )
      expect((yield* Effect.flip(service.authenticateClient("ghost", Redacted.make("nope")))).error).toBe(
        "invalid_client"
      )
      expect(
        (yield* Effect.flip(
          service.token(client, { grant_type: "password", username: "alice", password: Redacted.make("wonderland 42") })
        )).error
      )
        .toBe("unauthorized_client")
      expect(
        (yield* Effect.flip(service.token(client, { grant_type: "client_credentials", resource: "https://evil.test" })))
          .error
      )
        .toBe("invalid_target")
    }).pipe(Effect.provide(Live)))

  it.effect("a key published ahead signs only from publishAhead on; the JWKS max-age is shorter than that", () =>
    Effect.gen(function*() {
      const service = yield* TokenService.TokenService
      expect(service.jwksMaxAge).toBe(5)
      const oldKid = yield* service.signingKid
      const newKid = yield* service.rotateKey
      // Published at once, so verifiers can fetch it; not signing yet.
      expect((yield* service.jwks).keys.map((k) => k.kid)).toEqual([oldKid, newKid])
      expect((yield* claimsOf((yield* login()).access_token)).protectedHeader.kid).toBe(oldKid)
      yield* TestClock.adjust("9999 millis")
      expect((yield* claimsOf((yield* login()).access_token)).protectedHeader.kid).toBe(oldKid)
      yield* TestClock.adjust("1 milli")
      expect(yield* service.signingKid).toBe(newKid)
      expect((yield* claimsOf((yield* login()).access_token)).protectedHeader.kid).toBe(newKid)
      // The old key signed until 10 s; its last token lives 300 s more, plus 60 s of skew.
      yield* TestClock.adjust("359 seconds")
      expect((yield* service.jwks).keys.map((k) => k.kid)).toEqual([oldKid, newKid])
      yield* TestClock.adjust("1 second")
      expect((yield* service.jwks).keys.map((k) => k.kid)).toEqual([newKid])
    }).pipe(Effect.provide(serviceOf({ clients: [web], publishAhead: "10 seconds" }))))

  it.effect("key rotation keeps the old key published until its last token expired", () =>
    Effect.gen(function*() {
      const service = yield* TokenService.TokenService
      const before = yield* login()
      const oldKid = (yield* service.jwks).keys[0]!.kid
      const newKid = yield* service.rotateKey
      const after = yield* login()
      expect((yield* claimsOf(after.access_token)).protectedHeader.kid).toBe(newKid)
      expect((yield* service.jwks).keys.map((k) => k.kid)).toEqual([oldKid, newKid])
      expect((yield* claimsOf(before.access_token)).payload.sub).toBe("u-alice")
      // The access lifetime (300 s) plus the skew (60 s): then the old key goes.
      yield* TestClock.adjust("359 seconds")
      expect((yield* service.jwks).keys.map((k) => k.kid)).toEqual([oldKid, newKid])
      yield* TestClock.adjust("1 second")
      expect((yield* service.jwks).keys.map((k) => k.kid)).toEqual([newKid])
    }).pipe(Effect.provide(Live)))

  const exchange = (client: TokenService.Client, token: string, audience: string, scope?: string) =>
    Effect.flatMap(TokenService.TokenService, (s) =>
      s.token(client, {
        grant_type: TokenService.tokenExchange,
        subject_token: Redacted.make(token),
        subject_token_type: TokenService.accessTokenType,
        audience,
        ...(scope === undefined ? {} : { scope })
      }))

  it.effect("token exchange: the same user, tenant and session, for the next hop only, the caller in act", () =>
    Effect.gen(function*() {
      const user = yield* login()
      yield* TestClock.adjust("100 seconds")
      const exchanged = yield* exchange(orders, user.access_token, "https://billing.shop.test", "orders.read")
      expect(exchanged).toMatchObject({ issued_token_type: TokenService.accessTokenType, scope: "orders.read" })
      expect(exchanged.refresh_token).toBeUndefined()
      const original = (yield* claimsOf(user.access_token)).payload
      const { payload } = yield* claimsOf(exchanged.access_token)
      expect(payload).toMatchObject({
        sub: "u-alice",
        tid: "acme",
        aud: "https://billing.shop.test",
        act: { sub: "orders" },
        sid: original["sid"]
      })
      // No longer than the token it came from.
      expect(payload.exp).toBe(original.exp)
      // Exchanged again by the next hop: the chain of actors is kept, newest outermost.
      const again = yield* exchange(inventoryClient, exchanged.access_token, "https://orders.shop.test")
      expect((yield* claimsOf(again.access_token)).payload["act"]).toEqual({ sub: "inventory", act: { sub: "orders" } })
    }).pipe(Effect.provide(Live)))

  it.effect("token exchange refuses an unknown audience, more scope, a client without the grant, a revoked token", () =>
    Effect.gen(function*() {
      const service = yield* TokenService.TokenService
      const user = yield* login("wonderland 42", "stock.read")
      expect((yield* Effect.flip(exchange(orders, user.access_token, "https://evil.test"))).error).toBe(
        "invalid_target"
      )
      expect(
        (yield* Effect.flip(exchange(orders, user.access_token, "https://billing.shop.test", "orders.write"))).error
      )
        .toBe("invalid_scope")
      expect((yield* Effect.flip(exchange(web, user.access_token, "https://billing.shop.test"))).error)
        .toBe("unauthorized_client")
      expect((yield* Effect.flip(exchange(orders, "not-a-token", "https://billing.shop.test"))).error).toBe(
        "invalid_grant"
      )
      const exchanged = yield* exchange(orders, user.access_token, "https://billing.shop.test")
      // Logging out ends the exchanged token with the session, and no new one can be had from the old token.
      yield* service.revoke(web, Redacted.make(user.refresh_token!))
      expect(yield* revoked(exchanged.access_token)).toBe(true)
      expect((yield* Effect.flip(exchange(orders, user.access_token, "https://billing.shop.test"))).error)
        .toBe("invalid_grant")
    }).pipe(Effect.provide(Live)))
})
