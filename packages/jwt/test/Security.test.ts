/**
 * Attacks on JWT verification, each checked for its refusal reason
 * (`Unauthenticated`, `code: "invalid_token"`), for the absence of any defect,
 * and for a description that never repeats the token or its signature.
 *
 * Tokens are forged by hand where the attack needs bytes that no issuer
 * library writes (raw header text, repeated members, non-canonical base64url,
 * unknown `crit`), signed with WebCrypto or jose's `CompactSign`; every group
 * of refusals has a positive control forged the same way.
 */
import { describe, expect, it, layer } from "@effect/vitest"
import { Unauthenticated } from "@warden/core/AuthError"
import type { UnauthenticatedReason } from "@warden/core/AuthError"
import { JwtVerifier, KeyStore, RevocationStore, TokenIssuer } from "@warden/jwt"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import * as jose from "jose"
import { createHash, createPublicKey } from "node:crypto"
import type { JsonWebKey as NodeJwk } from "node:crypto"
import { JwksServer } from "./support/jwksServer.js"
import { audience, issuer, setup } from "./support/verifier.js"

type Verifier = JwtVerifier.JwtVerifier["Type"]

// ---------------------------------------------------------------------------------------------------------------
// Outcomes

const refused = (reason: UnauthenticatedReason) => ({ _tag: "Unauthenticated", code: "invalid_token", reason })

/**
 * What verifying `token` came to: `"ok"`, the refusal's tag, code and reason, or what went wrong instead (a defect,
 * another error, a description that repeats the token or its signature).
 */
const outcome = (verifier: Verifier, token: string) =>
  Effect.map(Effect.exit(verifier.verify(token)), (exit) => {
    if (Exit.isSuccess(exit)) return "ok" as const
    const failure = Cause.failureOption(exit.cause)
    if (!Cause.isFailType(exit.cause) || Option.isNone(failure)) return { defect: Cause.pretty(exit.cause) }
    const error = failure.value
    if (!(error instanceof Unauthenticated)) return { unexpected: String(error) }
    const rendered = `${JSON.stringify(error)} ${error.message} ${error.description}`
    const signature = token.split(".")[2] ?? ""
    if ((signature.length >= 8 && rendered.includes(signature)) || (token.length >= 16 && rendered.includes(token))) {
      return { leaked: rendered }
    }
    return { _tag: error._tag, code: error.code, reason: error.reason }
  })

type Case = readonly [label: string, token: string, expected: UnauthenticatedReason | "ok"]

/** Verifies every case and compares all outcomes at once, labelled, so a failure names its case. */
const expectOutcomes = (verifier: Verifier, cases: ReadonlyArray<Case>) =>
  Effect.gen(function*() {
    const actual: Array<readonly [string, unknown]> = []
    for (const [label, token] of cases) actual.push([label, yield* outcome(verifier, token)])
    expect(actual).toEqual(cases.map(([label, , expected]) => [label, expected === "ok" ? "ok" : refused(expected)]))
  })

// ---------------------------------------------------------------------------------------------------------------
// Forging

const utf8 = (text: string) => new TextEncoder().encode(text)
const b64 = (bytes: Uint8Array | string) =>
  Buffer.from(typeof bytes === "string" ? utf8(bytes) : bytes).toString("base64url")
const segments = (token: string) => {
  const [h = "", p = "", s = ""] = token.split(".")
  return [h, p, s] as const
}
const decode = (segment: string) => Buffer.from(segment, "base64url")

/** Signs `h.p` exactly as given: ES256 with a private key, or HS256 with secret bytes. */
const signSegments = (key: CryptoKey | Uint8Array, h: string, p: string) =>
  Effect.promise(async () => {
    const input = utf8(`${h}.${p}`)
    const signature = key instanceof Uint8Array ?
      await crypto.subtle.sign(
        "HMAC",
        await crypto.subtle.importKey("raw", new Uint8Array(key), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]),
        input
      ) :
      await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key, input)
    return `${h}.${p}.${b64(new Uint8Array(signature))}`
  })

type Part = Readonly<Record<string, unknown>> | string | Uint8Array

/** Encodes a header or payload: an object as JSON, a string as the exact text, bytes as they are. */
const encodePart = (part: Part) =>
  part instanceof Uint8Array ? b64(part) : b64(typeof part === "string" ? part : JSON.stringify(part))

/** A compact JWS of `header` and `payload` signed by `key` (ES256) or HMAC secret bytes (HS256). */
const forge = (key: CryptoKey | Uint8Array, header: Part, payload: Part) =>
  signSegments(key, encodePart(header), encodePart(payload))

/** The standard header of a signing key. */
const headerOf = (key: TokenIssuer.SigningKey, extra: Readonly<Record<string, unknown>> = {}) => ({
  alg: key.alg,
  typ: "at+jwt",
  kid: key.kid,
  ...extra
})

/** Claims valid now (by the Effect clock) for the test verifier. */
const validClaims = (claims: Readonly<Record<string, unknown>>, extra: Readonly<Record<string, unknown>> = {}) =>
  Effect.map(Clock.currentTimeMillis, (ms) => {
    const now = Math.floor(ms / 1000)
    return { ...claims, iat: now, exp: now + 300, jti: "jti-security", ...extra }
  })

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

/** The same bytes spelt differently: the last character with one of its unused trailing bits set. */
const alterTrailingBits = (segment: string) => {
  expect(segment.length % 4).not.toBe(0)
  const last = alphabet.indexOf(segment.at(-1)!)
  const altered = segment.slice(0, -1) + alphabet[last ^ 1]
  expect(decode(altered)).toEqual(decode(segment))
  return altered
}

/** JSON text whose base64url form has unused trailing bits (its length is not a multiple of 3). */
const withTrailingBits = (value: Readonly<Record<string, unknown>>) => {
  const text = JSON.stringify(value)
  return text.length % 3 === 0 ? `${text} ` : text
}

/** The order of P-256. */
const p256Order = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n

/** ECDSA's own malleability: (r, s) and (r, n - s) are both valid signatures of the same message. */
const malleate = (signature: string) => {
  const bytes = decode(signature)
  const s = BigInt(`0x${bytes.subarray(32).toString("hex")}`)
  return b64(Buffer.concat([bytes.subarray(0, 32), Buffer.from((p256Order - s).toString(16).padStart(64, "0"), "hex")]))
}

/** Whether jose alone (no Warden compact check) accepts the token's signature. */
const joseAccepts = (token: string, key: TokenIssuer.SigningKey) =>
  Effect.promise(() =>
    jose.importJWK(key.publicJwk, key.alg).then((k) => jose.compactVerify(token, k)).then(() => true, () => false)
  )

// ---------------------------------------------------------------------------------------------------------------

describe("algorithm", () => {
  it.scoped("alg none in any spelling, a missing alg and a non-string alg are refused", () =>
    Effect.gen(function*() {
      const { claims, key, verifier } = yield* setup()
      const body = yield* validClaims(claims)
      const payload = encodePart(body)
      const cases: Array<Case> = [["control: ES256", yield* forge(key.privateKey, headerOf(key), body), "ok"]]
      for (const alg of ["none", "None", "NONE", "nOnE"]) {
        const header = encodePart(headerOf(key, { alg }))
        cases.push(
          [`${alg}, empty signature`, `${header}.${payload}.`, "malformed"],
          [`${alg}, junk signature`, `${header}.${payload}.${b64("junk signature")}`, "algorithm"],
          [`${alg}, a real ES256 signature`, yield* forge(key.privateKey, headerOf(key, { alg }), body), "algorithm"]
        )
      }
      const { alg: _, ...noAlg } = headerOf(key)
      cases.push(["alg missing", yield* forge(key.privateKey, noAlg, body), "algorithm"])
      for (const alg of [256, null, true, ["ES256"], { name: "ES256" }, "es256", "ES256 ", ""]) {
        cases.push([
          `alg ${JSON.stringify(alg)}`,
          yield* forge(key.privateKey, headerOf(key, { alg }), body),
          "algorithm"
        ])
      }
      yield* expectOutcomes(verifier, cases)
    }))

  /** HMAC secrets an attacker derives from the issuer's published key. */
  const publicSecrets = (key: TokenIssuer.SigningKey): ReadonlyArray<readonly [string, Uint8Array]> => {
    const publicKey = createPublicKey({ key: key.publicJwk as NodeJwk, format: "jwk" })
    const pem = publicKey.export({ type: "spki", format: "pem" }) as string
    const jwk = key.publicJwk
    const raw = jwk.kty === "EC" ?
      Buffer.concat([Buffer.from([4]), decode(jwk.x!), decode(jwk.y!)]) :
      decode(jwk.n!)
    const members = jwk.kty === "EC" ?
      { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y } :
      { e: jwk.e, kty: jwk.kty, n: jwk.n }
    return [
      ["the published JWK's JSON", utf8(JSON.stringify(jwk))],
      ["the JWK's required members (thumbprint input)", utf8(JSON.stringify(members))],
      ["the SPKI PEM", utf8(pem)],
      ["the SPKI PEM without its last newline", utf8(pem.trimEnd())],
      ["the SPKI DER bytes", publicKey.export({ type: "spki", format: "der" })],
      [jwk.kty === "EC" ? "the raw public point" : "the raw modulus", raw]
    ]
  }

  it.scoped("HS256 keyed with the issuer's public key is refused (algorithm) when no HS* algorithm is allowed", () =>
    Effect.gen(function*() {
      for (const alg of ["ES256", "RS256"] as const) {
        const { claims, key, verifier } = yield* setup({}, {}, alg)
        const body = yield* validClaims(claims)
        const cases: Array<Case> = []
        for (const [label, secret] of publicSecrets(key)) {
          cases.push([`${alg}: ${label}`, yield* forge(secret, headerOf(key, { alg: "HS256" }), body), "algorithm"])
        }
        yield* expectOutcomes(verifier, cases)
      }
    }))

  it.effect("an HMAC secret shorter than the hash of an allowed HS* algorithm is refused (RFC 7518 §3.2)", () =>
    Effect.gen(function*() {
      const build = (algorithms: ReadonlyArray<JwtVerifier.Algorithm>, bytes: number) =>
        JwtVerifier.make({
          issuers: [issuer],
          audience,
          algorithms,
          hmacSecret: Redacted.make(new Uint8Array(bytes).fill(7)),
          cacheSize: 0
        }).pipe(
          Effect.provide(RevocationStore.layerNone),
          Effect.provideService(KeyStore.KeyStore, {} as KeyStore.KeyStore["Type"]),
          Effect.match({ onFailure: (e) => e.message, onSuccess: () => "ok" })
        )
      expect([
        yield* build(["HS256"], 31),
        yield* build(["HS256"], 32),
        yield* build(["HS384"], 47),
        yield* build(["HS384"], 48),
        yield* build(["HS512"], 63),
        yield* build(["HS512"], 64),
        yield* build(["HS256", "HS512"], 48)
      ]).toEqual([
        "HS256 need an explicitly configured hmacSecret of at least 32 bytes",
        "ok",
        "HS384 need an explicitly configured hmacSecret of at least 48 bytes",
        "ok",
        "HS512 need an explicitly configured hmacSecret of at least 64 bytes",
        "ok",
        "HS256, HS512 need an explicitly configured hmacSecret of at least 64 bytes"
      ])
    }))

  it.scoped("with an HMAC secret configured, HS256 keyed with the public key does not verify (signature)", () =>
    Effect.gen(function*() {
      const shared = utf8("a shared secret of at least thirty-two bytes")
      const { claims, key, sign, verifier } = yield* setup({
        algorithms: ["ES256", "HS256"],
        hmacSecret: Redacted.make(shared)
      })
      const body = yield* validClaims(claims)
      const cases: Array<Case> = [
        [
          "control: HS256 with the configured secret",
          yield* forge(shared, headerOf(key, { alg: "HS256" }), body),
          "ok"
        ],
        ["control: ES256", yield* sign(), "ok"]
      ]
      for (const [label, secret] of publicSecrets(key)) {
        cases.push([label, yield* forge(secret, headerOf(key, { alg: "HS256" }), body), "signature"])
      }
      yield* expectOutcomes(verifier, cases)
    }))
})

describe("keys the token names or carries", () => {
  it.scoped("an RSA key with public exponent 1 in the issuer's set is not used: a token forged with no private key", () =>
    Effect.gen(function*() {
      const { claims, keys, server, verifier } = yield* setup({}, {}, "RS256")
      const rsa = yield* TokenIssuer.generateKey("RS256")
      const broken = { ...rsa.publicJwk, kid: "e-is-one", e: "AQ" }
      server.serve({ keys: [rsa.publicJwk, broken] })
      yield* keys.refresh
      // With e = 1 the signature is the EMSA-PKCS1-v1_5 encoding of the message itself: no private key involved.
      const h = encodePart({ alg: "RS256", typ: "at+jwt", kid: broken.kid })
      const p = encodePart(yield* validClaims(claims))
      const digestInfo = Buffer.from("3031300d060960864801650304020105000420", "hex")
      const t = Buffer.concat([digestInfo, createHash("sha256").update(`${h}.${p}`).digest()])
      const size = decode(rsa.publicJwk.n!).length
      const encoded = Buffer.concat([Buffer.from([0, 1]), Buffer.alloc(size - t.length - 3, 0xff), Buffer.from([0]), t])
      yield* expectOutcomes(verifier, [["forged for the e = 1 key", `${h}.${p}.${b64(encoded)}`, "unknown_key"]])
      expect((yield* keys.status).ids).toEqual([rsa.kid])
    }))

  it.scoped("an embedded jwk, a jku or x5u pointing at the attacker's key set, a junk x5c: all refused, none fetched", () =>
    Effect.gen(function*() {
      const { claims, key, server, verifier } = yield* setup()
      const attacker = yield* TokenIssuer.generateKey("ES256")
      const evil = yield* JwksServer
      evil.serve(TokenIssuer.jwks([attacker]))
      const body = yield* validClaims(claims, { tid: "globex" })
      const forged = (header: Readonly<Record<string, unknown>>) => forge(attacker.privateKey, header, body)
      const { kid: _, ...noKid } = headerOf(attacker)
      const before = server.requests()
      yield* expectOutcomes(verifier, [
        ["control: the issuer's key", yield* forge(key.privateKey, headerOf(key), body), "ok"],
        ["jwk, no kid", yield* forged({ ...noKid, jwk: attacker.publicJwk }), "signature"],
        [
          "jwk, the issuer's kid",
          yield* forged(headerOf(attacker, { kid: key.kid, jwk: attacker.publicJwk })),
          "signature"
        ],
        ["jwk, the attacker's kid", yield* forged(headerOf(attacker, { jwk: attacker.publicJwk })), "unknown_key"],
        ["jku, the attacker's kid", yield* forged(headerOf(attacker, { jku: evil.url })), "unknown_key"],
        ["jku, the issuer's kid", yield* forged(headerOf(attacker, { kid: key.kid, jku: evil.url })), "signature"],
        ["x5u, the attacker's kid", yield* forged(headerOf(attacker, { x5u: evil.url })), "unknown_key"],
        ["x5u, the issuer's kid", yield* forged(headerOf(attacker, { kid: key.kid, x5u: evil.url })), "signature"],
        ["x5c junk, the issuer's kid", yield* forged(headerOf(attacker, { kid: key.kid, x5c: ["junk"] })), "signature"],
        ["x5c junk, no kid", yield* forged({ ...noKid, x5c: ["MIIBjunk", 42] }), "signature"]
      ])
      expect(evil.requests()).toBe(0)
      expect(server.requests() - before).toBeLessThanOrEqual(1)
    }))

  it.scoped("kid injection strings are unknown keys, other kids malformed, and the JWKS endpoint is not hammered", () =>
    Effect.gen(function*() {
      const { claims, key, server, verifier } = yield* setup()
      const large = yield* setup({ maxTokenBytes: 64 * 1024 })
      // Past the cooldown since the first fetch: unknown kids may cause one refetch, and no more.
      yield* TestClock.adjust("31 seconds")
      const body = yield* validClaims(claims)
      const withKid = (kid: unknown) => forge(key.privateKey, headerOf(key, { kid }), body)
      const before = server.requests()
      const cases: Array<Case> = []
      for (const kid of ["../../etc/passwd", "' OR 1=1 --", "\u0000", `${key.kid}\u0000`, "%2e%2e%2f", "${jndi:x}"]) {
        cases.push([`kid ${JSON.stringify(kid)}`, yield* withKid(kid), "unknown_key"])
      }
      cases.push(
        ["kid of 10,000 characters", yield* withKid("k".repeat(10_000)), "too_large"],
        ["kid of 257 characters", yield* withKid("k".repeat(257)), "malformed"],
        ["kid empty", yield* withKid(""), "malformed"]
      )
      for (const kid of [1, { id: key.kid }, [key.kid], null, true]) {
        cases.push([`kid ${JSON.stringify(kid)}`, yield* withKid(kid), "malformed"])
      }
      cases.push(["control: the issuer's kid", yield* withKid(key.kid), "ok"])
      yield* expectOutcomes(verifier, cases)
      expect(server.requests() - before).toBeLessThanOrEqual(1)
      // Under a larger size cap the 10,000-character kid reaches the kid check.
      const largeBody = yield* validClaims(large.claims)
      const largeBefore = large.server.requests()
      yield* expectOutcomes(large.verifier, [
        [
          "kid of 10,000 characters",
          yield* forge(large.key.privateKey, headerOf(large.key, { kid: "k".repeat(10_000) }), largeBody),
          "malformed"
        ]
      ])
      expect(large.server.requests()).toBe(largeBefore)
    }))
})

describe("structure", () => {
  it.scoped("an unknown crit header is refused", () =>
    Effect.gen(function*() {
      const { claims, key, verifier } = yield* setup()
      const body = yield* validClaims(claims)
      const forged = (extra: Readonly<Record<string, unknown>>) => forge(key.privateKey, headerOf(key, extra), body)
      yield* expectOutcomes(verifier, [
        ["control", yield* forged({}), "ok"],
        ["crit [exp] with exp present", yield* forged({ crit: ["exp"], exp: 300 }), "malformed"],
        ["crit [urn:x] with urn:x present", yield* forged({ crit: ["urn:x"], "urn:x": true }), "malformed"],
        ["crit [urn:x] without urn:x", yield* forged({ crit: ["urn:x"] }), "malformed"],
        ["crit [alg]", yield* forged({ crit: ["alg"] }), "malformed"],
        ["crit []", yield* forged({ crit: [] }), "malformed"],
        ["crit not an array", yield* forged({ crit: "urn:x", "urn:x": 1 }), "malformed"],
        ["crit [b64] with b64 false", yield* forged({ crit: ["b64"], b64: false }), "malformed"]
      ])
    }))

  it.scoped("a JWE, a nested JWT and a payload that is not a JSON object are malformed", () =>
    Effect.gen(function*() {
      const { claims, key, verifier } = yield* setup()
      const body = yield* validClaims(claims)
      const random = (n: number) => b64(crypto.getRandomValues(new Uint8Array(n)))
      const jweHeader = encodePart({ alg: "RSA-OAEP-256", enc: "A256GCM", kid: key.kid })
      const forged = (header: Readonly<Record<string, unknown>>, payload: Part) =>
        forge(key.privateKey, header, payload)
      yield* expectOutcomes(verifier, [
        ["control", yield* forged(headerOf(key), body), "ok"],
        ["JWE, 5 segments", `${jweHeader}.${random(256)}.${random(12)}.${random(64)}.${random(16)}`, "malformed"],
        [
          "JWE dir, empty key segment",
          `${encodePart({ alg: "dir", enc: "A256GCM" })}..${random(12)}.${random(64)}.${random(16)}`,
          "malformed"
        ],
        ["nested JWT, cty JWT", yield* forged(headerOf(key, { cty: "JWT" }), body), "malformed"],
        ["nested JWT, cty jwt", yield* forged(headerOf(key, { cty: "jwt" }), body), "malformed"],
        [
          "nested JWT, cty application/jwt",
          yield* forged(headerOf(key, { cty: "application/jwt" }), body),
          "malformed"
        ],
        ["payload a JSON string", yield* forged(headerOf(key), JSON.stringify(JSON.stringify(body))), "malformed"],
        ["payload a JSON array", yield* forged(headerOf(key), JSON.stringify([body])), "malformed"],
        ["payload a number", yield* forged(headerOf(key), "1"), "malformed"],
        ["payload null", yield* forged(headerOf(key), "null"), "malformed"],
        ["payload empty", `${encodePart(headerOf(key))}..${random(64)}`, "malformed"]
      ])
    }))
})

/** Each protected-header member Warden or jose reads, the JSON type it must have, and the refusal otherwise. */
const headerMembers: ReadonlyArray<{
  readonly member: string
  readonly fits: (value: unknown) => boolean
  readonly reason: UnauthenticatedReason
  readonly description: string
}> = [
  {
    member: "alg",
    fits: (v) => typeof v === "string",
    reason: "algorithm",
    description: "the token's 'alg' header must be a string"
  },
  {
    member: "kid",
    fits: (v) => typeof v === "string",
    reason: "malformed",
    description: "the token's 'kid' header must be a string"
  },
  {
    member: "typ",
    fits: (v) => typeof v === "string",
    reason: "malformed",
    description: "the token's 'typ' header must be a string"
  },
  {
    member: "cty",
    fits: (v) => typeof v === "string",
    reason: "malformed",
    description: "the token's 'cty' header must be a string"
  },
  {
    member: "crit",
    fits: (v) => Array.isArray(v) && v.every((c) => typeof c === "string" && c.length > 0),
    reason: "malformed",
    description: "the token's 'crit' header must be an array of non-empty strings"
  },
  {
    member: "b64",
    fits: (v) => v === true,
    reason: "malformed",
    description: "the token's 'b64' header must be true when present: payloads must be base64url-encoded"
  }
]

/** A value of each JSON type but the member's own, and an object whose `toString` is not a function. */
const wrongValues = (fits: (value: unknown) => boolean): ReadonlyArray<unknown> =>
  [{}, { toString: 1 }, [1], ["a", ""], 1, 0, true, false, null, "at+jwt"].filter((v) => !fits(v))

/** What a refusal says, or what went wrong instead. */
const refusal = (verifier: Verifier, token: string) =>
  Effect.map(Effect.exit(verifier.verify(token)), (exit) => {
    if (Exit.isSuccess(exit)) return "ok" as const
    const failure = Cause.failureOption(exit.cause)
    if (!Cause.isFailType(exit.cause) || Option.isNone(failure)) return { defect: Cause.pretty(exit.cause) }
    const error = failure.value
    return error instanceof Unauthenticated ?
      { reason: error.reason, description: error.description } :
      { unexpected: String(error) }
  })

class HeaderFixture extends Context.Tag("HeaderFixture")<HeaderFixture, {
  readonly verifier: Verifier
  /** A valid token of the issuer's key with these members set in its protected header. */
  readonly withHeader: (members: Readonly<Record<string, unknown>>) => Effect.Effect<string>
}>() {}

const HeaderFixtureLive = Layer.scoped(
  HeaderFixture,
  Effect.gen(function*() {
    const { claims, key, verifier } = yield* setup()
    return {
      verifier,
      withHeader: (members) =>
        Effect.flatMap(validClaims(claims), (body) => forge(key.privateKey, headerOf(key, members), body))
    }
  })
)

layer(HeaderFixtureLive)("header member types", (it) => {
  it.effect("every member Warden or jose reads, of every wrong JSON type, is refused up front and named", () =>
    Effect.gen(function*() {
      const { verifier, withHeader } = yield* HeaderFixture
      expect(yield* refusal(verifier, yield* withHeader({}))).toBe("ok")
      const actual: Array<unknown> = []
      const expected: Array<unknown> = []
      for (const { description, fits, member, reason } of headerMembers) {
        for (const value of wrongValues(fits)) {
          actual.push([member, value, yield* refusal(verifier, yield* withHeader({ [member]: value }))])
          expected.push([member, value, { reason, description }])
        }
      }
      expect(actual).toEqual(expected)
    }))

  it.effect("b64 true, alone or critical, is the default and verifies; critical b64 must be present", () =>
    Effect.gen(function*() {
      const { verifier, withHeader } = yield* HeaderFixture
      expect(yield* refusal(verifier, yield* withHeader({ b64: true }))).toBe("ok")
      expect(yield* refusal(verifier, yield* withHeader({ crit: ["b64"], b64: true }))).toBe("ok")
      expect(yield* refusal(verifier, yield* withHeader({ crit: ["b64"] }))).toMatchObject({ reason: "malformed" })
    }))

  it.effect.prop(
    "any JSON value in any member is a typed refusal or a verified token, never a defect",
    [FastCheck.constantFrom(...headerMembers), FastCheck.jsonValue({ maxDepth: 2 })],
    ([{ description, fits, member, reason }, value]) =>
      Effect.gen(function*() {
        const { verifier, withHeader } = yield* HeaderFixture
        const seen = yield* refusal(verifier, yield* withHeader({ [member]: value }))
        if (!fits(value)) expect(seen).toEqual({ reason, description })
        else expect(seen === "ok" || ("reason" in seen && "description" in seen), JSON.stringify(seen)).toBe(true)
      }),
    { fastCheck: { numRuns: 300 } }
  )
})

describe("non-canonical encodings", () => {
  it.scoped("whitespace, padding, other alphabets and altered trailing bits are malformed, though jose takes them", () =>
    Effect.gen(function*() {
      const { claims, key, verifier } = yield* setup()
      const body = yield* validClaims(claims)
      // A signature with a '-' or '_' in it, so the standard-alphabet spelling differs.
      let token = yield* forge(key.privateKey, headerOf(key), body)
      while (!/[-_]/.test(segments(token)[2])) token = yield* forge(key.privateKey, headerOf(key), body)
      const [h, p, s] = segments(token)
      const headerText = withTrailingBits(headerOf(key))
      const claimsText = withTrailingBits(body)
      const headerBits = yield* signSegments(key.privateKey, alterTrailingBits(b64(headerText)), b64(claimsText))
      const claimsBits = yield* signSegments(key.privateKey, b64(headerText), alterTrailingBits(b64(claimsText)))
      const variants: ReadonlyArray<readonly [string, string]> = [
        ["leading space", ` ${token}`],
        ["trailing newline", `${token}\n`],
        ["space after a dot", `${h}. ${p}.${s}`],
        ["tab inside the payload", `${h}.${p.slice(0, 10)}\t${p.slice(10)}.${s}`],
        ["CRLF inside the signature", `${h}.${p}.${s.slice(0, 40)}\r\n${s.slice(40)}`],
        ["padded signature", `${h}.${p}.${s}==`],
        ["padded header", `${h}${"=".repeat((4 - (h.length % 4)) % 4 || 1)}.${p}.${s}`],
        ["standard base64 alphabet", `${h}.${p}.${s.replace(/-/g, "+").replace(/_/g, "/")}`],
        ["signature trailing bits altered", `${h}.${p}.${alterTrailingBits(s)}`],
        ["header trailing bits altered, signed as sent", headerBits],
        ["claims trailing bits altered, signed as sent", claimsBits]
      ]
      const cases: Array<Case> = [
        ["control", token, "ok"],
        [
          "control: the texts above, canonically encoded",
          yield* signSegments(key.privateKey, b64(headerText), b64(claimsText)),
          "ok"
        ]
      ]
      for (const [label, variant] of variants) cases.push([label, variant, "malformed"])
      yield* expectOutcomes(verifier, cases)
      // jose alone verifies these: the refusal is Warden's strict compact check.
      for (
        const label of [
          "padded signature",
          "signature trailing bits altered",
          "header trailing bits altered, signed as sent",
          "claims trailing bits altered, signed as sent"
        ]
      ) {
        const variant = variants.find(([l]) => l === label)![1]
        expect([label, yield* joseAccepts(variant, key)]).toEqual([label, true])
      }
    }))

  it.scoped("a repeated member in the header or the claims is malformed", () =>
    Effect.gen(function*() {
      const { claims, key, verifier } = yield* setup()
      const body = yield* validClaims(claims)
      const claimsText = JSON.stringify(body)
      const repeatedTid = claimsText.replace(/}$/, ",\"tid\":\"globex\"}")
      const escapedTid = claimsText.replace(/}$/, ",\"t\\u0069d\":\"globex\"}")
      const compactSign = (text: string) =>
        Effect.promise(() =>
          new jose.CompactSign(utf8(text)).setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid: key.kid }).sign(
            key.privateKey
          )
        )
      const header = JSON.stringify(headerOf(key))
      const withTid = yield* compactSign(repeatedTid)
      yield* expectOutcomes(verifier, [
        ["control", yield* compactSign(claimsText), "ok"],
        ["claims {\"tid\":\"acme\",\"tid\":\"globex\"}", withTid, "malformed"],
        ["claims tid repeated through an escape", yield* compactSign(escapedTid), "malformed"],
        [
          "claims exp repeated",
          yield* compactSign(claimsText.replace(/}$/, `,"exp":${body.exp + 86_400}}`)),
          "malformed"
        ],
        [
          "header kid repeated",
          yield* forge(key.privateKey, header.replace(/}$/, `,"kid":"${key.kid}"}`), body),
          "malformed"
        ],
        [
          "header alg none then ES256",
          yield* forge(key.privateKey, `{"alg":"none",${header.slice(1)}`, body),
          "malformed"
        ]
      ])
      // The signature is good, and what a lenient parser (JSON.parse) makes of the claims: the last member, another tenant.
      expect(yield* joseAccepts(withTid, key)).toBe(true)
      expect(JSON.parse(decode(segments(withTid)[1]).toString("utf8")).tid).toBe("globex")
    }))

  it.scoped("claims that are not UTF-8, and JSON nested 10,000 deep, are malformed (no stack overflow)", () =>
    Effect.gen(function*() {
      const { claims, key, verifier } = yield* setup()
      const large = yield* setup({ maxTokenBytes: 64 * 1024 })
      const body = yield* validClaims(claims)
      const withBytes = (bytes: ReadonlyArray<number>) =>
        Buffer.concat([
          Buffer.from(JSON.stringify({ ...body, name: "" }).replace(/""}$/, "\"")),
          Buffer.from(bytes),
          Buffer.from("\"}")
        ])
      const deep = "[".repeat(10_000) + "]".repeat(10_000)
      const deepClaims = JSON.stringify({ ...body, deep: 0 }).replace("\"deep\":0", `"deep":${deep}`)
      const deepHeader = JSON.stringify(headerOf(key, { deep: 0 })).replace("\"deep\":0", `"deep":${deep}`)
      yield* expectOutcomes(verifier, [
        ["control: UTF-8 name", yield* forge(key.privateKey, headerOf(key), withBytes([0xc3, 0xa9])), "ok"],
        ["byte 0xff", yield* forge(key.privateKey, headerOf(key), withBytes([0xff])), "malformed"],
        ["overlong '/' (c0 af)", yield* forge(key.privateKey, headerOf(key), withBytes([0xc0, 0xaf])), "malformed"],
        [
          "lone surrogate (ed a0 80)",
          yield* forge(key.privateKey, headerOf(key), withBytes([0xed, 0xa0, 0x80])),
          "malformed"
        ],
        [
          "truncated sequence (e2 82)",
          yield* forge(key.privateKey, headerOf(key), withBytes([0xe2, 0x82])),
          "malformed"
        ],
        ["header byte 0xff", yield* forge(key.privateKey, Uint8Array.from([0xff]), body), "malformed"],
        ["claims nested 10,000 deep, default cap", yield* forge(key.privateKey, headerOf(key), deepClaims), "too_large"]
      ])
      const largeBody = yield* validClaims(large.claims)
      const largeClaims = JSON.stringify({ ...largeBody, deep: 0 }).replace("\"deep\":0", `"deep":${deep}`)
      yield* expectOutcomes(large.verifier, [
        ["control", yield* forge(large.key.privateKey, headerOf(large.key), largeBody), "ok"],
        [
          "claims nested 10,000 deep",
          yield* forge(large.key.privateKey, headerOf(large.key), largeClaims),
          "malformed"
        ],
        [
          "header nested 10,000 deep",
          yield* forge(large.key.privateKey, deepHeader.replace(key.kid, large.key.kid), largeBody),
          "malformed"
        ]
      ])
    }))
})

describe("claims", () => {
  it.scoped("missing and wrong-typed claims are refused as claims", () =>
    Effect.gen(function*() {
      const { sign, verifier } = yield* setup()
      const cases: ReadonlyArray<readonly [string, Readonly<Record<string, unknown>>]> = [
        ["no exp", { exp: undefined }],
        ["exp a string", { exp: "300" }],
        ["exp null", { exp: null }],
        ["no iss", { iss: undefined }],
        ["iss a number", { iss: 42 }],
        ["iss an array", { iss: [issuer] }],
        ["no aud", { aud: undefined }],
        ["aud a number", { aud: 42 }],
        ["aud an object", { aud: { aud: audience } }],
        ["aud an array holding a non-string", { aud: [audience, 42] }],
        ["nbf a string", { nbf: "0" }],
        ["iat a string", { iat: "0" }],
        ["sub a number", { sub: 42 }],
        ["sub empty", { sub: "" }],
        ["client_id a number", { client_id: 42 }],
        ["jti empty", { jti: "" }],
        ["jti a number", { jti: 1 }],
        ["tid missing", { tid: undefined }],
        ["tid a number", { tid: 42 }],
        ["tid empty", { tid: "" }],
        ["tid an array", { tid: ["acme"] }],
        ["tid an object", { tid: { id: "acme" } }],
        ["tid with a space", { tid: "ac me" }],
        ["tid with a trailing space", { tid: "acme " }],
        ["tid starting with a dot", { tid: ".acme" }],
        ["tid of 129 characters", { tid: "a".repeat(129) }],
        ["tenants a string", { tenants: "globex" }],
        ["tenants an object", { tenants: { globex: true } }],
        ["tenants holding a number", { tenants: ["globex", 1] }],
        ["tenants holding a malformed id", { tenants: ["glo bex"] }],
        ["scope with a tab", { scope: "orders.write\torders.read" }],
        ["scope with a no-break space", { scope: "orders.write\u00a0orders.read" }],
        ["scope with a double space", { scope: "orders.write  orders.read" }],
        ["scope with a leading space", { scope: " orders.write" }],
        ["scope with a Cyrillic look-alike", { scope: "\u043erders.write" }],
        ["scope with a fullwidth look-alike", { scope: "orders\uff0ewrite" }],
        ["scope empty", { scope: "" }],
        ["scope a number", { scope: 1 }]
      ]
      const all: Array<Case> = [["control", yield* sign(), "ok"]]
      for (const [label, extra] of cases) all.push([label, yield* sign(extra), "claims"])
      yield* expectOutcomes(verifier, all)
    }))

  const T = 1_700_000_000_000
  const now = T / 1000

  it.scoped("exp, nbf and iat at the edges of the 30-second skew, and the 24-hour lifetime", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(T)
      const { sign, verifier } = yield* setup()
      const at = (claims: Readonly<Record<string, unknown>>) => sign(claims)
      yield* expectOutcomes(verifier, [
        ["exp one second beyond the skew", yield* at({ iat: now - 600, exp: now - 31 }), "expired"],
        ["exp exactly now - skew", yield* at({ iat: now - 600, exp: now - 30 }), "expired"],
        ["exp one second inside the skew", yield* at({ iat: now - 600, exp: now - 29 }), "ok"],
        ["exp now", yield* at({ iat: now - 600, exp: now }), "ok"],
        ["nbf one second beyond the skew", yield* at({ nbf: now + 31 }), "not_yet_valid"],
        ["nbf exactly now + skew", yield* at({ nbf: now + 30 }), "ok"],
        ["nbf within the skew", yield* at({ nbf: now + 5 }), "ok"],
        ["iat one second beyond the skew", yield* at({ iat: now + 31, exp: now + 331 }), "not_yet_valid"],
        ["iat exactly now + skew", yield* at({ iat: now + 30, exp: now + 330 }), "ok"],
        ["lifetime exactly 24 hours", yield* at({ iat: now, exp: now + 86_400 }), "ok"],
        ["lifetime 24 hours and a second", yield* at({ iat: now, exp: now + 86_401 }), "lifetime"],
        ["lifetime from nbf, no iat", yield* at({ iat: undefined, nbf: now, exp: now + 86_401 }), "lifetime"],
        ["lifetime from now, no iat nor nbf", yield* at({ iat: undefined, exp: now + 86_401 }), "lifetime"]
      ])
    }))

  it.scoped("a cached token is refused as expired once its exp (and the skew) has passed", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(T)
      const { sign, verifier } = yield* setup()
      const token = yield* sign({ jti: "cached" }, { lifetimeSeconds: 60 })
      yield* expectOutcomes(verifier, [["fresh", token, "ok"], ["cached", token, "ok"]])
      expect(yield* verifier.cached).toBe(1)
      yield* TestClock.adjust("61 seconds")
      // Past exp, within the skew: still accepted (from the cache, which serves the same window).
      yield* expectOutcomes(verifier, [["past exp, within the skew", token, "ok"]])
      yield* TestClock.adjust("30 seconds")
      yield* expectOutcomes(verifier, [["past exp and the skew", token, "expired"], ["again", token, "expired"]])
    }))

  it.scoped("audience and issuer are compared exactly", () =>
    Effect.gen(function*() {
      const { sign, verifier } = yield* setup()
      yield* expectOutcomes(verifier, [
        ["aud an array containing the audience", yield* sign({ aud: ["https://other.test", audience] }), "ok"],
        ["aud an array without it", yield* sign({ aud: ["https://other.test", "https://third.test"] }), "audience"],
        ["aud an empty array", yield* sign({ aud: [] }), "audience"],
        ["aud with a trailing slash", yield* sign({ aud: `${audience}/` }), "audience"],
        ["aud in upper case", yield* sign({ aud: audience.toUpperCase() }), "audience"],
        ["iss with a trailing slash", yield* sign({ iss: `${issuer}/` }), "issuer"],
        ["iss in another case", yield* sign({ iss: "https://Identity.test" }), "issuer"],
        ["iss over http", yield* sign({ iss: "http://identity.test" }), "issuer"],
        ["iss with the default port", yield* sign({ iss: "https://identity.test:443" }), "issuer"],
        ["iss with a leading space", yield* sign({ iss: ` ${issuer}` }), "issuer"]
      ])
      const first = "https://login.first.test"
      const second = "https://login.second.test/tenant/"
      const several = yield* setup({ issuers: [first, second], audience: [audience, "api://inventory"] })
      yield* expectOutcomes(several.verifier, [
        ["the first issuer", yield* several.sign({ iss: first }), "ok"],
        ["the second issuer", yield* several.sign({ iss: second }), "ok"],
        ["the second audience", yield* several.sign({ iss: first, aud: "api://inventory" }), "ok"],
        ["the first issuer with a slash", yield* several.sign({ iss: `${first}/` }), "issuer"],
        ["the second issuer without its slash", yield* several.sign({ iss: second.slice(0, -1) }), "issuer"],
        ["both issuers joined", yield* several.sign({ iss: `${first},${second}` }), "issuer"],
        ["the default issuer, not configured here", yield* several.sign({ iss: issuer }), "issuer"]
      ])
    }))
})

describe("cross-tenant replay", () => {
  it.scoped("a token is its own tenant's only; another issuer's key or an edited tid is refused", () =>
    Effect.gen(function*() {
      const a = yield* setup()
      const otherIssuer = "https://other-identity.test"
      const b = yield* setup({ issuers: [otherIssuer] })
      const token = yield* a.sign({ tenants: ["globex", "initech", "globex"] })
      const principal = yield* a.verifier.verify(token)
      expect([principal.tenant, principal.tenants]).toEqual(["acme", ["acme", "globex", "initech"]])
      expect([
        principal.signs("acme"),
        principal.signs("globex"),
        principal.signs("Globex"),
        principal.signs("umbrella")
      ])
        .toEqual([true, true, false, false])
      const single = yield* a.verifier.verify(yield* a.sign())
      expect([single.tenant, single.tenants, single.signs("globex")]).toEqual(["acme", ["acme"], false])
      const exact = yield* a.verifier.verify(yield* a.sign({ tid: "Acme", tenants: ["GLOBEX", "acme"] }))
      expect([exact.tenant, exact.tenants]).toEqual(["Acme", ["Acme", "GLOBEX", "acme"]])

      const [h, , s] = segments(yield* a.sign({ jti: "edited" }))
      const body = yield* validClaims(a.claims, { tid: "globex" })
      yield* expectOutcomes(a.verifier, [
        ["tid edited, signature kept", `${h}.${encodePart(body)}.${s}`, "signature"],
        [
          "re-signed by another issuer's key, its kid",
          yield* TokenIssuer.sign(b.key, { ...a.claims, tid: "globex" }),
          "unknown_key"
        ],
        [
          "re-signed by another issuer's key, our kid",
          yield* forge(b.key.privateKey, headerOf(a.key), body),
          "signature"
        ],
        ["the other issuer's own token", yield* b.sign({ iss: otherIssuer, tid: "globex" }), "unknown_key"]
      ])
      yield* expectOutcomes(b.verifier, [
        ["control: the other issuer's own token", yield* b.sign({ iss: otherIssuer, tid: "globex" }), "ok"],
        ["our token at the other issuer's verifier", token, "unknown_key"],
        ["our claims signed by its key", yield* b.sign({ tid: "acme" }), "issuer"]
      ])
    }))
})

describe("revocation", () => {
  it.scoped("a revoked token stays refused however it is re-encoded or re-signed", () =>
    Effect.gen(function*() {
      const { claims, key, revocations, verifier } = yield* setup()
      let token = yield* TokenIssuer.sign(key, { ...claims, jti: "rev-1" })
      while (!/[-_]/.test(segments(token)[2])) token = yield* TokenIssuer.sign(key, { ...claims, jti: "rev-1" })
      const [h, p, s] = segments(token)
      const body = JSON.parse(decode(p).toString("utf8")) as Readonly<Record<string, unknown>> & { exp: number }
      yield* expectOutcomes(verifier, [["before revocation", token, "ok"]])
      yield* revocations.revoke({ issuer, tokenId: "rev-1" }, body.exp)

      const resigned = yield* TokenIssuer.sign(key, body)
      const malleated = `${h}.${p}.${malleate(s)}`
      expect([resigned === token, yield* joseAccepts(resigned, key), yield* joseAccepts(malleated, key)]).toEqual([
        false,
        true,
        true
      ])
      const spacedHeader = `{ "kid" : "${key.kid}", "typ" : "at+jwt", "alg" : "ES256" }`
      const escapedJti = JSON.stringify(body).replace("\"jti\":\"rev-1\"", "\"jti\":\"rev\\u002d1\"")
      yield* expectOutcomes(verifier, [
        ["the same token (cached)", token, "revoked"],
        ["re-signed: same claims, a fresh ECDSA signature", resigned, "revoked"],
        ["re-signed: the same signature's ECDSA twin (r, n - s)", malleated, "revoked"],
        ["re-signed: header reordered and spaced", yield* forge(key.privateKey, spacedHeader, body), "revoked"],
        [
          "re-signed: jti spelt with an escape",
          yield* forge(key.privateKey, JSON.parse(decode(h).toString()), escapedJti),
          "revoked"
        ],
        ["signature trailing bits altered", `${h}.${p}.${alterTrailingBits(s)}`, "malformed"],
        ["signature padded", `${h}.${p}.${s}==`, "malformed"],
        ["standard base64 alphabet", `${h}.${p}.${s.replace(/-/g, "+").replace(/_/g, "/")}`, "malformed"],
        ["trailing whitespace", `${token} `, "malformed"],
        ["a line break inside", `${h}.\n${p}.${s}`, "malformed"]
      ])
    }))
})

class BitFlipFixture extends Context.Tag("BitFlipFixture")<BitFlipFixture, {
  readonly verifier: Verifier
  readonly token: Effect.Effect<string>
}>() {}

const BitFlipFixtureLive = Layer.scoped(
  BitFlipFixture,
  Effect.gen(function*() {
    const { sign, verifier } = yield* setup()
    // Signed on first use, by the clock the verification runs under.
    const token = yield* Effect.cached(sign({ jti: "bit-flips" }))
    return { verifier, token }
  })
)

layer(BitFlipFixtureLive)("bit flips", (it) => {
  it.effect("control: the unflipped token verifies", () =>
    Effect.gen(function*() {
      const { token, verifier } = yield* BitFlipFixture
      expect(yield* outcome(verifier, yield* token)).toBe("ok")
    }))

  it.effect.prop(
    "flipping any single bit of any character is refused, never accepted, never a defect",
    [FastCheck.nat(), FastCheck.integer({ min: 0, max: 7 })],
    ([position, bit]) =>
      Effect.gen(function*() {
        const { token: signed, verifier } = yield* BitFlipFixture
        const token = yield* signed
        const i = position % token.length
        const flipped = token.slice(0, i) + String.fromCharCode(token.charCodeAt(i) ^ (1 << bit)) + token.slice(i + 1)
        expect(flipped).not.toBe(token)
        expect(yield* outcome(verifier, flipped)).toMatchObject({ _tag: "Unauthenticated", code: "invalid_token" })
      }),
    { fastCheck: { numRuns: 200 } }
  )
})

describe("size and disclosure", () => {
  it.scoped("a token over 8 KiB is too_large; up to the cap it is verified", () =>
    Effect.gen(function*() {
      const { sign, verifier } = yield* setup()
      let pad = 6_000
      let token = yield* sign({ pad: "x".repeat(pad) })
      while (token.length < 8_190) token = yield* sign({ pad: "x".repeat(++pad) })
      while (token.length > 8_192) token = yield* sign({ pad: "x".repeat(--pad) })
      yield* expectOutcomes(verifier, [
        [`a token of ${token.length} bytes`, token, "ok"],
        ["a token of over 8 KiB", yield* sign({ pad: "x".repeat(pad + 3) }), "too_large"],
        ["9 KiB of junk", "x".repeat(9 * 1024), "too_large"],
        ["9 KiB of dots", ".".repeat(9 * 1024), "too_large"]
      ])
    }))
})
