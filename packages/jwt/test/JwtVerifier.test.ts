import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import type * as HttpClient from "@effect/platform/HttpClient"
import { describe, expect, it } from "@effect/vitest"
import { Claims, Credential, Principal, Settings } from "@warden/core"
import { JwtVerifier, KeyStore, RevocationStore, TokenIssuer } from "@warden/jwt"
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"
import { JwksServer } from "./support/jwksServer.js"
import { issuer, setup } from "./support/verifier.js"

const reasonOf = <A>(exit: Exit.Exit<A, { readonly reason: string }>) =>
  Exit.isSuccess(exit) ? "ok" : exit.cause._tag === "Fail" ? exit.cause.error.reason : `defect: ${exit.cause._tag}`

describe("JwtVerifier", () => {
  it.scoped("verifies a token from the issuer's JWKS into a principal", () =>
    Effect.gen(function*() {
      const { sign, verifier } = yield* setup()
      const principal = yield* verifier.verify(yield* sign({ client_id: "web" }))
      expect(principal).toMatchObject({
        kind: "user",
        subject: "alice",
        tenant: "acme",
        tenants: ["acme"],
        clientId: "web",
        issuer: "https://identity.test",
        authenticatedBy: "jwt"
      })
      expect(principal.scopes.tokens).toEqual(["orders.write"])
    }))

  it.scoped("decodes the declared claims at verification, and refuses a token whose declared claims do not decode", () =>
    Effect.gen(function*() {
      const Roles = Claims.declare("Roles", Schema.Struct({ roles: Schema.Array(Schema.String) }))
      const { sign, verifier } = yield* setup({ declared: Roles })
      const principal = yield* verifier.verify(yield* sign({ roles: ["admin"] }))
      expect(Roles.of(principal)).toEqual(Option.some({ roles: ["admin"] }))
      expect(reasonOf(yield* Effect.exit(verifier.verify(yield* sign({ roles: "admin" }))))).toBe("claims")
    }))

  it.scoped("accepts each of several configured types, and only those", () =>
    Effect.gen(function*() {
      const { sign, verifier } = yield* setup({ type: ["at+jwt", "JWT"] })
      expect((yield* verifier.verify(yield* sign({}, { header: { typ: "JWT" } }))).subject).toBe("alice")
      expect((yield* verifier.verify(yield* sign())).subject).toBe("alice")
      const other = yield* Effect.exit(verifier.verify(yield* sign({}, { header: { typ: "application/foo" } })))
      expect(reasonOf(other)).toBe("type")
    }))

  it.scoped("a client-credentials token (sub = client_id) is a service principal", () =>
    Effect.gen(function*() {
      const { sign, verifier } = yield* setup()
      const principal = yield* verifier.verify(yield* sign({ sub: "orders", client_id: "orders" }))
      expect(principal.kind).toBe("service")
    }))

  it.scoped("refuses what it must, each with its reason", () =>
    Effect.gen(function*() {
      const { sign, verifier } = yield* setup()
      const cases: Array<[string, Effect.Effect<string>]> = [
        ["issuer", sign({ iss: "https://evil.test" })],
        ["audience", sign({ aud: "https://other.test" })],
        ["expired", sign({ exp: -31 })],
        ["type", sign({}, { header: { typ: "JWT" } })],
        ["claims", sign({ tid: 42 })],
        ["claims", sign({ tid: "" })],
        ["claims", sign({ tid: undefined })],
        ["lifetime", sign({}, { lifetimeSeconds: 7 * 24 * 3600 })],
        ["claims", sign({ scope: "orders.write  orders.read" })]
      ]
      for (const [reason, token] of cases) {
        expect([reason, reasonOf(yield* Effect.exit(verifier.verify(yield* token)))]).toEqual([reason, reason])
      }
      expect(reasonOf(yield* Effect.exit(verifier.verify("a.b")))).toBe("malformed")
      expect(reasonOf(yield* Effect.exit(verifier.verify("x".repeat(9000))))).toBe("too_large")
    }))

  it.scoped("a refusal names what was wrong: the accepted type, the claim and the type it must have", () =>
    Effect.gen(function*() {
      const { sign, verifier } = yield* setup()
      const told = (token: string) =>
        Effect.map(
          Effect.flip(verifier.verify(token)),
          (e): readonly [string, string] => [e.reason, e.description]
        )
      const cases: Array<[Effect.Effect<string>, string, string]> = [
        [sign({}, { header: { typ: "JWT" } }), "type", "the token's type must be 'at+jwt'"],
        [sign({ exp: "300" }), "claims", "the 'exp' claim must be a number"],
        [sign({ exp: null }), "claims", "the 'exp' claim must be a number"],
        [sign({ exp: undefined }), "claims", "the token has no 'exp' claim"],
        [sign({ nbf: "0" }), "claims", "the 'nbf' claim must be a number"],
        [sign({ iat: true }), "claims", "the 'iat' claim must be a number"],
        [sign({ iss: 42 }), "claims", "the 'iss' claim must be a string"],
        [sign({ iss: undefined }), "claims", "the token has no 'iss' claim"],
        [sign({ aud: 42 }), "claims", "the 'aud' claim must be a string or an array of strings"],
        [
          sign({ aud: ["https://inventory.test", 1] }),
          "claims",
          "the 'aud' claim must be a string or an array of strings"
        ],
        [sign({ sub: 42 }), "claims", "the 'sub' claim must be a string"],
        [sign({ client_id: [] }), "claims", "the 'client_id' claim must be a string"],
        [sign({ jti: "" }), "claims", "the 'jti' claim must be a string of 1 to 256 characters"],
        [sign({ scope: 1 }), "claims", "the 'scope' claim must be a string"]
      ]
      for (const [token, reason, description] of cases) {
        expect(yield* told(yield* token)).toEqual([reason, description])
      }
    }))

  it.scoped("a revoked token stays revoked on the cached path", () =>
    Effect.gen(function*() {
      const { revocations, sign, verifier } = yield* setup()
      const token = yield* sign({ jti: "t-1" })
      yield* verifier.verify(token)
      yield* revocations.revoke({ issuer: "https://identity.test", tokenId: "t-1" }, 4_000_000_000)
      expect(reasonOf(yield* Effect.exit(verifier.verify(token)))).toBe("revoked")
    }))

  it.scoped("an unavailable revocation store refuses as unavailable, on the fresh and the cached path, and recovers", () =>
    Effect.gen(function*() {
      let down = false
      const unavailable = new RevocationStore.RevocationUnavailable({ message: "store down" })
      const flaky = Layer.effect(
        RevocationStore.RevocationStore,
        Effect.map(RevocationStore.RevocationStore, (memory) => ({
          revoke: (token: RevocationStore.TokenRef, until: number) =>
            down ? Effect.fail(unavailable) : memory.revoke(token, until),
          revokeSubject: (subject: RevocationStore.SubjectRef, before: number, until: number) =>
            down ? Effect.fail(unavailable) : memory.revokeSubject(subject, before, until),
          isRevoked: (token: RevocationStore.Presented) => down ? Effect.fail(unavailable) : memory.isRevoked(token)
        }))
      ).pipe(Layer.provide(RevocationStore.layerMemory))
      const { sign, verifier } = yield* setup({}, {}, "ES256", flaky)
      const cachedToken = yield* sign({ jti: "t-cached" })
      const principal = yield* verifier.verify(cachedToken)
      down = true
      const fresh = yield* Effect.exit(verifier.verify(yield* sign({ jti: "t-fresh" })))
      expect(reasonOf(fresh)).toBe("unavailable")
      expect(reasonOf(yield* Effect.exit(verifier.verify(cachedToken)))).toBe("unavailable")
      // A token without jti can still fall under a subject cutoff: the store is asked, and refuses when down.
      expect(reasonOf(yield* Effect.exit(verifier.verify(yield* sign({ jti: undefined }))))).toBe("unavailable")
      const revoking = yield* Effect.exit(verifier.revoke(principal))
      expect(Exit.isFailure(revoking) && revoking.cause._tag === "Fail" && revoking.cause.error._tag).toBe(
        "RevocationUnavailable"
      )
      down = false
      expect(reasonOf(yield* Effect.exit(verifier.verify(cachedToken)))).toBe("ok")
    }))

  it.scoped("a token signed by a key that is not in the set is unknown_key", () =>
    Effect.gen(function*() {
      const { claims, verifier } = yield* setup()
      const stranger = yield* TokenIssuer.generateKey("ES256")
      expect(reasonOf(yield* Effect.exit(verifier.verify(yield* TokenIssuer.sign(stranger, claims))))).toBe(
        "unknown_key"
      )
    }))
})

describe("the header table (headers decoded once per distinct segment)", () => {
  it.scoped("decides a token by its own segments, whatever it saw before under the same header", () =>
    Effect.gen(function*() {
      const { sign, verifier } = yield* setup({ cacheSize: 0 })
      const good = yield* sign()
      yield* verifier.verify(good)
      const [header, claims, signature] = good.split(".") as [string, string, string]
      // The same header segment, now known: a changed claims set or signature is still refused.
      const forgedClaims = Buffer.from(JSON.stringify({ sub: "mallory" })).toString("base64url")
      expect(reasonOf(yield* Effect.exit(verifier.verify(`${header}.${forgedClaims}.${signature}`)))).toBe("signature")
      const flipped = `${signature.slice(0, 10)}${signature[10] === "A" ? "B" : "A"}${signature.slice(11)}`
      expect(reasonOf(yield* Effect.exit(verifier.verify(`${header}.${claims}.${flipped}`)))).toBe("signature")
      // A header that differs in its type is checked as the new header it is.
      const other = yield* sign({}, { header: { typ: "JWT" } })
      expect(reasonOf(yield* Effect.exit(verifier.verify(other)))).toBe("type")
      // The first token still verifies, again and again, with the cache off.
      expect((yield* verifier.verify(good)).subject).toBe("alice")
      expect((yield* verifier.verify(good)).subject).toBe("alice")
    }))
})

describe("a bearer credential the cache served", () => {
  const principalOf = (answer: unknown) => answer instanceof Principal.Principal ? answer : undefined

  it.scoped("is answered from the entry remembered on it, still checked for revocation and expiry", () =>
    Effect.gen(function*() {
      const { sign, verifier } = yield* setup({ clockSkew: "0 seconds" })
      const credential = Credential.bearer(yield* sign({ jti: "memo-1" }, { lifetimeSeconds: 60 }))
      // Fresh, then a cache hit that remembers the entry on the credential, then the remembered entry.
      yield* verifier.verify(Credential.secretOf(credential))
      expect(principalOf(verifier.verifyBearerNow(credential, 1_000))?.subject).toBe("alice")
      expect(Credential.recall(credential, {})).toBeUndefined()
      const served = principalOf(verifier.verifyBearerNow(credential, 2_000))
      expect(served?.tokenId).toBe("memo-1")
      yield* verifier.revoke(served!)
      expect(verifier.verifyBearerNow(credential, 3_000)).toMatchObject({ reason: "revoked" })
      const later = Credential.bearer(yield* sign({ jti: "memo-2" }, { lifetimeSeconds: 60 }))
      yield* verifier.verify(Credential.secretOf(later))
      expect(principalOf(verifier.verifyBearerNow(later, 1_000))?.tokenId).toBe("memo-2")
      expect(principalOf(verifier.verifyBearerNow(later, 59_999))?.tokenId).toBe("memo-2")
      expect(verifier.verifyBearerNow(later, 60_000)).toMatchObject({ reason: "expired" })
    }))

  it.scoped("is not served once its key has left the key set", () =>
    Effect.gen(function*() {
      const { keys, server, sign, verifier } = yield* setup()
      const credential = Credential.bearer(yield* sign())
      yield* verifier.verify(Credential.secretOf(credential))
      expect(principalOf(verifier.verifyBearerNow(credential, 1_000))).toBeDefined()
      expect(principalOf(verifier.verifyBearerNow(credential, 1_000))).toBeDefined()
      server.serve(TokenIssuer.jwks([yield* TokenIssuer.generateKey("ES256")]))
      yield* keys.refresh
      expect(principalOf(verifier.verifyBearerNow(credential, 1_000))).toBeUndefined()
      expect(reasonOf(yield* Effect.exit(verifier.verify(Credential.secretOf(credential))))).not.toBe("ok")
    }))

  it.scoped("is never answered for another verifier from what this one remembered", () =>
    Effect.gen(function*() {
      const { keys, revocations, sign, verifier } = yield* setup()
      const elsewhere = yield* JwtVerifier.make({ issuers: [issuer], audience: "https://elsewhere.test" }).pipe(
        Effect.provideService(KeyStore.KeyStore, keys),
        Effect.provideService(RevocationStore.RevocationStore, revocations)
      )
      const credential = Credential.bearer(yield* sign())
      yield* verifier.verify(Credential.secretOf(credential))
      for (let i = 0; i < 3; i++) expect(principalOf(verifier.verifyBearerNow(credential, 1_000))).toBeDefined()
      for (let i = 0; i < 3; i++) {
        expect(elsewhere.verifyBearerNow(credential, 1_000)).toMatchObject({ reason: "audience" })
      }
      // And the other way round: the first verifier's answer does not change for the second's attempts.
      expect(principalOf(verifier.verifyBearerNow(credential, 1_000))).toBeDefined()
    }))

  it.scoped("is verified afresh every time when the cache is off", () =>
    Effect.gen(function*() {
      const { sign, verifier } = yield* setup({ cacheSize: 0 })
      const credential = Credential.bearer(yield* sign())
      const first = yield* verifier.verify(Credential.secretOf(credential))
      const answers = [0, 1, 2].map(() => principalOf(verifier.verifyBearerNow(credential, 1_000)))
      // A fresh verification builds a principal of its own; a remembered entry would give the same one again.
      expect(new Set([first, ...answers]).size).toBe(4)
      expect(answers.every((answer) => answer?.subject === "alice")).toBe(true)
      expect(yield* verifier.cached).toBe(0)
    }))
})

describe("the verified-token cache", () => {
  it.scoped("is on by default, bounded by cacheSize, and keyed by the exact token string", () =>
    Effect.gen(function*() {
      const { sign, verifier } = yield* setup({ cacheSize: 3 })
      const tokens = yield* Effect.all(Array.from({ length: 5 }, (_, i) => sign({ jti: `t-${i}` })))
      for (const token of tokens) yield* verifier.verify(token)
      expect(yield* verifier.cached).toBe(3)
      yield* verifier.verify(tokens[4]!)
      expect(yield* verifier.cached).toBe(3)
    }))

  it.scoped("serves a cached token only for its exact text: one that shares its signature's end is verified itself", () =>
    Effect.gen(function*() {
      const { sign, verifier } = yield* setup()
      const good = yield* sign()
      // Twice: the second answer comes from the cache, and puts the token among the recent ones.
      for (let i = 0; i < 3; i++) expect((yield* verifier.verify(good)).subject).toBe("alice")
      const [header, claims, signature] = good.split(".") as [string, string, string]
      const mallory = Buffer.from(
        JSON.stringify({ ...JSON.parse(Buffer.from(claims, "base64url").toString("utf8")), sub: "mallory" })
      ).toString("base64url")
      for (const forged of [`${header}.${mallory}.${signature}`, `${header}.${claims}X.${signature}`]) {
        expect(forged.slice(-32)).toBe(good.slice(-32))
        const exit = yield* Effect.exit(verifier.verify(forged))
        expect(["signature", "malformed"]).toContain(reasonOf(exit))
      }
      expect((yield* verifier.verify(good)).subject).toBe("alice")
    }))

  it.scoped("holds a token no longer than its exp", () =>
    Effect.gen(function*() {
      const { sign, verifier } = yield* setup({ clockSkew: "0 seconds" })
      const token = yield* sign({}, { lifetimeSeconds: 60 })
      yield* verifier.verify(token)
      yield* TestClock.adjust("61 seconds")
      expect(reasonOf(yield* Effect.exit(verifier.verify(token)))).toBe("expired")
      expect(yield* verifier.cached).toBe(0)
    }))

  it.scoped("can be turned off", () =>
    Effect.gen(function*() {
      const { sign, verifier } = yield* setup({ cacheSize: 0 })
      yield* verifier.verify(yield* sign())
      expect(yield* verifier.cached).toBe(0)
    }))
})

describe("one acceptance window: exp plus the clock skew, for the verifier, the cache and revocation", () => {
  const hits = Metric.value(Metric.tagged(JwtVerifier.metrics.cacheLookups, "result", "hit")).pipe(
    Effect.map((state) => state.count)
  )

  it.scoped("a revoked token stays refused past its exp, while the skew still accepts it", () =>
    Effect.gen(function*() {
      const { sign, verifier } = yield* setup()
      const token = yield* sign({ jti: "revoked-late" }, { lifetimeSeconds: 60 })
      const principal = yield* verifier.verify(token)
      expect(verifier.acceptedUntil(principal)).toBe(principal.expiresAt! + 30)
      yield* verifier.revoke(principal)
      yield* TestClock.adjust("61 seconds")
      expect(reasonOf(yield* Effect.exit(verifier.verify(token)))).toBe("revoked")
      // Up to the last second the skew accepts it.
      yield* TestClock.adjust("28 seconds")
      expect(reasonOf(yield* Effect.exit(verifier.verify(token)))).toBe("revoked")
      yield* TestClock.adjust("1 second")
      expect(reasonOf(yield* Effect.exit(verifier.verify(token)))).toBe("expired")
    }))

  it.scoped("a revocation written to the store until acceptedUntil holds as long", () =>
    Effect.gen(function*() {
      const { revocations, sign, verifier } = yield* setup({ clockSkew: "2 minutes" })
      const token = yield* sign({ jti: "revoked-by-store" }, { lifetimeSeconds: 60 })
      const principal = yield* verifier.verify(token)
      yield* revocations.revoke(
        { issuer: principal.issuer, tokenId: principal.tokenId! },
        verifier.acceptedUntil(principal)!
      )
      yield* TestClock.adjust("179 seconds")
      expect(reasonOf(yield* Effect.exit(verifier.verify(token)))).toBe("revoked")
      yield* TestClock.adjust("1 second")
      expect(reasonOf(yield* Effect.exit(verifier.verify(token)))).toBe("expired")
    }))

  it.scoped("revokeSubject refuses every token of the subject issued until then, cached or fresh, jti or not", () =>
    Effect.gen(function*() {
      const { sign, verifier } = yield* setup({ maxLifetime: "1 hour" })
      yield* TestClock.adjust("100 seconds")
      const withJti = yield* sign({ jti: "a-1" })
      const withoutJti = yield* sign({ jti: undefined })
      const otherUser = yield* sign({ sub: "bob" })
      const principal = yield* verifier.verify(withJti)
      yield* verifier.verify(withoutJti)
      expect(principal.issuedAt).toBe(100)
      yield* TestClock.adjust("10 seconds")
      yield* verifier.revokeSubject(principal)
      expect(reasonOf(yield* Effect.exit(verifier.verify(withJti)))).toBe("revoked")
      expect(reasonOf(yield* Effect.exit(verifier.verify(withoutJti)))).toBe("revoked")
      expect(verifier.verifyNow(withoutJti, 110_000)).toMatchObject({ reason: "revoked" })
      expect(reasonOf(yield* Effect.exit(verifier.verify(otherUser)))).toBe("ok")
      // A token issued after the cutoff (the next second) is accepted: logging in again works.
      yield* TestClock.adjust("1 second")
      expect(reasonOf(yield* Effect.exit(verifier.verify(yield* sign({ jti: "a-2" }))))).toBe("ok")
      // A token that does not say when it was issued is refused while the cutoff is kept.
      const noIat = yield* sign({ iat: undefined })
      expect(reasonOf(yield* Effect.exit(verifier.verify(noIat)))).toBe("revoked")
      // Kept for the longest lifetime plus the skew after the cutoff, then forgotten.
      // The cutoff is at 110 s; it is kept until 110 + 3600 + 30.
      yield* TestClock.adjust(`${110 + 3600 + 30 - 111 - 1} seconds`)
      expect(reasonOf(yield* Effect.exit(verifier.verify(yield* sign({ iat: undefined }))))).toBe("revoked")
      yield* TestClock.adjust("1 second")
      expect(reasonOf(yield* Effect.exit(verifier.verify(yield* sign({ iat: undefined }))))).toBe("ok")
    }))

  it.scoped("a token past its exp but inside the skew is served from the cache, up to the end of the skew", () =>
    Effect.gen(function*() {
      const { sign, verifier } = yield* setup()
      const token = yield* sign({ jti: "late" }, { lifetimeSeconds: 60 })
      yield* verifier.verify(token)
      const before = yield* hits
      yield* TestClock.adjust("61 seconds")
      expect(reasonOf(yield* Effect.exit(verifier.verify(token)))).toBe("ok")
      yield* TestClock.adjust(Duration.millis(28_999))
      expect(reasonOf(yield* Effect.exit(verifier.verify(token)))).toBe("ok")
      expect((yield* hits) - before).toBe(2)
      // At exp + skew, the verifier and the cache refuse alike.
      yield* TestClock.adjust(Duration.millis(1))
      expect(reasonOf(yield* Effect.exit(verifier.verify(token)))).toBe("expired")
      expect((yield* hits) - before).toBe(2)
    }))

  it.scoped("a skew of a fraction of a second ends acceptance exactly there, not at the next whole second", () =>
    Effect.gen(function*() {
      const { sign, verifier } = yield* setup({ clockSkew: "250 millis", cacheSize: 0 })
      const token = yield* sign({ jti: "fraction" }, { lifetimeSeconds: 60 })
      yield* TestClock.adjust(Duration.millis(60_249))
      expect(reasonOf(yield* Effect.exit(verifier.verify(token)))).toBe("ok")
      yield* TestClock.adjust(Duration.millis(1))
      expect(reasonOf(yield* Effect.exit(verifier.verify(token)))).toBe("expired")
    }))

  it.scoped("a principal without a token id cannot be revoked, and says so", () =>
    Effect.gen(function*() {
      const { sign, verifier } = yield* setup()
      const principal = yield* verifier.verify(yield* sign({ jti: undefined }))
      const error = yield* Effect.flip(verifier.revoke(principal))
      expect([error._tag, error.message]).toEqual([
        "NotRevocable",
        "the token carries no jti: a token is revoked by its issuer and jti"
      ])
    }))
})

describe("configuration", () => {
  it.scoped("reads WARDEN_* settings through Effect Config", () =>
    Effect.gen(function*() {
      const server = yield* JwksServer
      const key = yield* TokenIssuer.generateKey("ES256")
      server.serve(TokenIssuer.jwks([key]))
      const config = ConfigProvider.fromMap(
        new Map([
          ["WARDEN_ISSUER", "https://a.test,https://b.test"],
          ["WARDEN_AUDIENCE", "inventory"],
          ["WARDEN_JWKS_URL", server.url],
          ["WARDEN_JWKS_ALLOW_INSECURE_LOOPBACK", "true"],
          ["WARDEN_TENANT_CLAIM", "org"],
          ["WARDEN_JWT_TYPE", "none"]
        ])
      )
      const context = yield* Layer.build(
        JwtVerifier.layerConfig().pipe(
          Layer.provide(KeyStore.layerConfig()),
          Layer.provide(RevocationStore.layerMemory),
          Layer.provide(NodeHttpClient.layerUndici),
          Layer.provide(Layer.setConfigProvider(config))
        )
      )
      const verifier = yield* Effect.provide(JwtVerifier.JwtVerifier, context)
      const claims = { aud: "inventory", sub: "alice", org: "acme" }
      const principal = yield* verifier.verify(
        yield* TokenIssuer.sign(key, { ...claims, iss: "https://b.test" }, { header: { typ: "JWT" } })
      )
      expect(principal.tenant).toBe("acme")
      const exit = yield* Effect.exit(
        verifier.verify(yield* TokenIssuer.sign(key, { ...claims, iss: "https://c.test" }))
      )
      expect(reasonOf(exit)).toBe("issuer")
    }))

  const fromMap = (entries: ReadonlyArray<readonly [string, string]>) => ConfigProvider.fromMap(new Map(entries))
  const load = <A>(config: Config.Config<A>, entries: ReadonlyArray<readonly [string, string]>) =>
    Effect.either(Effect.withConfigProvider(config, fromMap(entries)))

  it.effect("every verifier option round-trips from its WARDEN_* name", () =>
    Effect.gen(function*() {
      const secret = "s".repeat(32)
      const options = yield* Effect.withConfigProvider(
        JwtVerifier.config,
        fromMap([
          ["WARDEN_ISSUER", "https://a.test,https://b.test"],
          ["WARDEN_AUDIENCE", "inventory,api://inventory"],
          ["WARDEN_JWT_ALGORITHMS", "ES256,HS256"],
          ["WARDEN_JWT_TYPE", "none"],
          ["WARDEN_JWT_CLOCK_SKEW", "10s"],
          ["WARDEN_JWT_MAX_LIFETIME", "1h"],
          ["WARDEN_JWT_MAX_BYTES", "4096"],
          ["WARDEN_JWT_CACHE_SIZE", "50"],
          ["WARDEN_TENANT_CLAIM", "org"],
          ["WARDEN_TENANTS_CLAIM", "orgs"],
          ["WARDEN_PERMISSIONS_CLAIM", "perms"],
          ["WARDEN_DENY_CLAIM", "denied"],
          ["WARDEN_SCOPE_ARRAY_CLAIM", "scp"],
          ["WARDEN_JWT_HMAC_SECRET", secret]
        ])
      )
      const { hmacSecret, ...rest } = options
      expect(rest).toEqual({
        issuers: ["https://a.test", "https://b.test"],
        audience: ["inventory", "api://inventory"],
        algorithms: ["ES256", "HS256"],
        type: null,
        clockSkew: Duration.seconds(10),
        maxLifetime: Duration.hours(1),
        maxTokenBytes: 4096,
        cacheSize: 50,
        tenantClaim: "org",
        tenantsClaim: "orgs",
        permissionsClaim: "perms",
        denyClaim: "denied",
        scopeArrayClaim: "scp"
      })
      expect(hmacSecret === undefined ? undefined : Redacted.value(hmacSecret)).toBe(secret)
      // Only what is set: the rest keeps the verifier's defaults.
      const least = yield* Effect.withConfigProvider(
        JwtVerifier.config,
        fromMap([["WARDEN_ISSUER", "https://a.test"], ["WARDEN_AUDIENCE", "inventory"], ["WARDEN_JWT_TYPE", "JWT"]])
      )
      expect(least).toEqual({ issuers: ["https://a.test"], audience: ["inventory"], type: "JWT" })
    }))

  it.effect("every key store option round-trips from its WARDEN_JWKS_* name", () =>
    Effect.gen(function*() {
      const options = yield* Effect.withConfigProvider(
        KeyStore.config,
        fromMap([
          ["WARDEN_JWKS_URL", "https://identity.test/jwks"],
          ["WARDEN_JWKS_ALLOW_INSECURE_LOOPBACK", "true"],
          ["WARDEN_JWKS_REFRESH_INTERVAL", "5m"],
          ["WARDEN_JWKS_MIN_REFRESH_INTERVAL", "30s"],
          ["WARDEN_JWKS_MAX_REFRESH_INTERVAL", "2 hours"],
          ["WARDEN_JWKS_JITTER", "0.2"],
          ["WARDEN_JWKS_COOLDOWN", "15s"],
          ["WARDEN_JWKS_MAX_STALE", "1d"],
          ["WARDEN_JWKS_TIMEOUT", "250ms"],
          ["WARDEN_JWKS_MAX_BYTES", "65536"]
        ])
      )
      expect(options).toEqual({
        jwksUrl: "https://identity.test/jwks",
        allowInsecureLoopback: true,
        refreshInterval: Duration.minutes(5),
        minRefreshInterval: Duration.seconds(30),
        maxRefreshInterval: Duration.hours(2),
        jitter: 0.2,
        cooldown: Duration.seconds(15),
        maxStale: Duration.days(1),
        timeout: Duration.millis(250),
        maxBytes: 65_536
      })
      expect(yield* Effect.withConfigProvider(KeyStore.config, fromMap([["WARDEN_JWKS_URL", "https://i.test/jwks"]])))
        .toEqual({ jwksUrl: "https://i.test/jwks" })
    }))

  it.effect("a malformed setting is a ConfigError that says what is accepted", () =>
    Effect.gen(function*() {
      const required = [["WARDEN_ISSUER", "https://a.test"], ["WARDEN_AUDIENCE", "inventory"]] as const
      const cases: ReadonlyArray<readonly [Config.Config<unknown>, readonly [string, string], string]> = [
        [JwtVerifier.config, ["WARDEN_JWT_CLOCK_SKEW", "soon"], Settings.durationFormats],
        [JwtVerifier.config, ["WARDEN_JWT_MAX_LIFETIME", "24"], Settings.durationFormats],
        [JwtVerifier.config, ["WARDEN_JWT_ALGORITHMS", "ES256,none"], "RS256"],
        [JwtVerifier.config, ["WARDEN_ISSUER", ""], "WARDEN_ISSUER"],
        [KeyStore.config, ["WARDEN_JWKS_COOLDOWN", "30"], Settings.durationFormats],
        [KeyStore.config, ["WARDEN_JWKS_JITTER", "0.7"], "between 0 and 0.5"]
      ]
      for (const [config, entry, says] of cases) {
        const result = yield* load(config, [...required, ["WARDEN_JWKS_URL", "https://i.test/jwks"], entry])
        expect([entry, Either.isLeft(result) && String(result.left).includes(says)]).toEqual([entry, true])
        expect([entry, Either.isLeft(result) && String(result.left).includes(entry[0])]).toEqual([entry, true])
      }
    }))

  it.scoped("two issuers in one process: each verifier from its own names", () =>
    Effect.gen(function*() {
      const server = yield* JwksServer
      const key = yield* TokenIssuer.generateKey("ES256")
      server.serve(TokenIssuer.jwks([key]))
      // As the environment provider does, a nested name joins its prefix with "_".
      const provider = ConfigProvider.fromMap(
        new Map([
          ["ORDERS_WARDEN_ISSUER", "https://orders-identity.test"],
          ["ORDERS_WARDEN_AUDIENCE", "orders"],
          ["ORDERS_WARDEN_JWKS_URL", server.url],
          ["ORDERS_WARDEN_JWKS_ALLOW_INSECURE_LOOPBACK", "true"],
          ["BILLING_ISSUER", "https://billing-identity.test"],
          ["BILLING_AUDIENCE", "billing"],
          ["BILLING_SKEW", "0s"],
          ["BILLING_JWKS", server.url]
        ]),
        { pathDelim: "_" }
      )
      const build = (
        verifier: Layer.Layer<JwtVerifier.JwtVerifier, unknown, KeyStore.KeyStore | RevocationStore.RevocationStore>,
        keys: Layer.Layer<KeyStore.KeyStore, unknown, HttpClient.HttpClient>
      ) =>
        Layer.build(
          verifier.pipe(
            Layer.provide(keys),
            Layer.provide(RevocationStore.layerMemory),
            Layer.provide(NodeHttpClient.layerUndici),
            Layer.provide(Layer.setConfigProvider(provider))
          )
        ).pipe(Effect.flatMap((context) => Effect.provide(JwtVerifier.JwtVerifier, context)))
      // The default names under a prefix, and names of the caller's own choosing.
      const orders = yield* build(
        JwtVerifier.layerConfig(Config.nested(JwtVerifier.config, "ORDERS")),
        KeyStore.layerConfig(Config.nested(KeyStore.config, "ORDERS"))
      )
      const billing = yield* build(
        JwtVerifier.layerConfig({
          issuers: Settings.nonEmptyArray(Config.string(), "BILLING_ISSUER"),
          audience: Config.string("BILLING_AUDIENCE"),
          clockSkew: Settings.duration("BILLING_SKEW")
        }),
        KeyStore.layerConfig({ jwksUrl: Config.string("BILLING_JWKS"), allowInsecureLoopback: Config.succeed(true) })
      )
      const token = (iss: string, aud: string) => TokenIssuer.sign(key, { iss, aud, sub: "alice", tid: "acme" })
      const ordersToken = yield* token("https://orders-identity.test", "orders")
      const billingToken = yield* token("https://billing-identity.test", "billing")
      expect(reasonOf(yield* Effect.exit(orders.verify(ordersToken)))).toBe("ok")
      expect(reasonOf(yield* Effect.exit(orders.verify(billingToken)))).toBe("issuer")
      expect(reasonOf(yield* Effect.exit(billing.verify(billingToken)))).toBe("ok")
      expect(reasonOf(yield* Effect.exit(billing.verify(ordersToken)))).toBe("issuer")
    }))

  it.effect("refuses HS256 without a secret of at least 32 bytes, and an empty or unknown allow-list", () =>
    Effect.gen(function*() {
      const build = (options: Partial<JwtVerifier.Options>) =>
        JwtVerifier.make({ issuers: ["https://i"], audience: "a", ...options }).pipe(
          Effect.provide(RevocationStore.layerNone),
          Effect.provideService(KeyStore.KeyStore, {} as KeyStore.KeyStore["Type"]),
          Effect.flip,
          Effect.map((e) => e.message)
        )
      expect(yield* build({ algorithms: ["HS256"] })).toContain("at least 32 bytes")
      expect(yield* build({ algorithms: ["HS256"], hmacSecret: Redacted.make("short") })).toContain("at least 32 bytes")
      expect(yield* build({ algorithms: [] })).toContain("empty")
      expect(yield* build({ algorithms: ["none" as JwtVerifier.Algorithm] })).toContain("unknown algorithms")
    }))
})
