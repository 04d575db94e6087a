/**
 * The native verification path against jose, on thousands of tokens: valid
 * ones, ones with claims and headers off by a little, mutated bytes, forged
 * signatures (another key, a swapped signature, an HMAC keyed with the public
 * key, `alg: none`) and keys picked by the wrong `kid`.
 *
 * The oracle is `jose.jwtVerify` with the same keys (a local JWKS for the
 * asymmetric ones, the configured secret for HS256), algorithms, issuer,
 * audience, `typ`, skew and time. Warden refuses more than jose by design,
 * and each extra rule is spelled out here: the strict compact form and JSON
 * (`Compact.split`), the header member types, `kid` length, no nested JWT,
 * the lifetime bound, `iat` not in the future, the acceptance window ending
 * exactly at `exp` plus the skew, and a claims set that makes a principal.
 *
 * So, for every token: Warden accepts exactly when jose accepts and no extra
 * rule objects; when both accept, the principal is the one jose's payload
 * makes; when jose refuses a signature, Warden never accepts.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import { Unauthenticated } from "@warden/core/AuthError"
import * as Claims from "@warden/core/Claims"
import { JwtVerifier, KeyStore, RevocationStore, TokenIssuer } from "@warden/jwt"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import * as jose from "jose"
import * as crypto from "node:crypto"
import * as Compact from "../src/internal/compact.js"
import * as Header from "../src/internal/header.js"
import { JwksServer } from "./support/jwksServer.js"

const issuer = "https://identity.test"
const audience = "https://inventory.test"
const skew = 30
const maxLifetime = 24 * 3600
/** Not on a whole second, so the sub-second edges of the window are exercised. */
const nowMs = Date.UTC(2026, 11, 2, 12, 0, 0) + 437
const now = Math.floor(nowMs / 1000)
const secret = crypto.randomBytes(32)

const asymmetric = ["RS256", "PS256", "ES256", "EdDSA"] as const
type Signer = (typeof asymmetric)[number] | "HS256" | "HS256-public" | "none" | "ES256-other"

interface Recipe {
  readonly signer: Signer
  readonly alg: string | null
  readonly kid: "own" | "other" | "unknown" | "none"
  readonly typ: unknown
  readonly crit: "none" | "b64" | "b64-missing" | "exp" | "empty"
  readonly cty: "none" | "JWT" | "json"
  readonly iss: unknown
  readonly aud: unknown
  readonly exp: number | "absent" | "text"
  readonly iat: number | "absent"
  readonly nbf: number | "absent"
  readonly sub: unknown
  readonly tid: unknown
  readonly scope: unknown
  readonly mutation:
    | { readonly _tag: "none" }
    | { readonly _tag: "flip"; readonly segment: 0 | 1 | 2; readonly at: number; readonly to: number }
    | { readonly _tag: "truncate"; readonly by: number }
    | { readonly _tag: "swap" }
    | { readonly _tag: "pad" }
    | { readonly _tag: "realg"; readonly alg: string }
}

const absentOr = <A>(arb: FastCheck.Arbitrary<A>) => FastCheck.oneof(FastCheck.constant("absent" as const), arb)

const recipe: FastCheck.Arbitrary<Recipe> = FastCheck.record({
  signer: FastCheck.constantFrom<Signer>(...asymmetric, "HS256", "HS256-public", "none", "ES256-other"),
  alg: FastCheck.oneof(
    { weight: 8, arbitrary: FastCheck.constant(null) },
    { weight: 1, arbitrary: FastCheck.constantFrom("none", "HS256", "RS256", "ES256", "ES384", "PS512", "EdDSA") }
  ),
  kid: FastCheck.oneof(
    { weight: 8, arbitrary: FastCheck.constant("own" as const) },
    { weight: 1, arbitrary: FastCheck.constantFrom("other" as const, "unknown" as const, "none" as const) }
  ),
  typ: FastCheck.oneof(
    { weight: 8, arbitrary: FastCheck.constant("at+jwt") },
    { weight: 2, arbitrary: FastCheck.constantFrom("AT+JWT", "application/at+jwt", "JWT", "absent", 7) }
  ),
  crit: FastCheck.oneof(
    { weight: 10, arbitrary: FastCheck.constant("none" as const) },
    {
      weight: 1,
      arbitrary: FastCheck.constantFrom("b64" as const, "b64-missing" as const, "exp" as const, "empty" as const)
    }
  ),
  cty: FastCheck.oneof(
    { weight: 12, arbitrary: FastCheck.constant("none" as const) },
    { weight: 1, arbitrary: FastCheck.constantFrom("JWT" as const, "json" as const) }
  ),
  iss: FastCheck.oneof(
    { weight: 8, arbitrary: FastCheck.constant(issuer) },
    { weight: 1, arbitrary: FastCheck.constantFrom("https://other.test", 42, "absent", `${issuer}/`) }
  ),
  aud: FastCheck.oneof(
    { weight: 8, arbitrary: FastCheck.constant(audience) },
    {
      weight: 2,
      arbitrary: FastCheck.constantFrom(["https://other.test", audience], "https://other.test", [], "absent", 1, [1])
    }
  ),
  exp: FastCheck.oneof(
    { weight: 6, arbitrary: FastCheck.integer({ min: 60, max: 3600 }) },
    { weight: 2, arbitrary: FastCheck.constantFrom(-3600, -31, -30, -29, 0, 90_000) },
    { weight: 1, arbitrary: FastCheck.constantFrom("absent" as const, "text" as const) }
  ),
  iat: FastCheck.oneof(
    { weight: 6, arbitrary: FastCheck.integer({ min: -600, max: 0 }) },
    { weight: 2, arbitrary: FastCheck.constantFrom("absent" as const, 29, 30, 31, 600, -90_000) }
  ),
  nbf: absentOr(FastCheck.constantFrom(-10, 29, 30, 31, 600)),
  sub: FastCheck.oneof(
    { weight: 8, arbitrary: FastCheck.constant("alice") },
    { weight: 1, arbitrary: FastCheck.constantFrom("absent", 5, "", "bob\u0000") }
  ),
  tid: FastCheck.oneof(
    { weight: 8, arbitrary: FastCheck.constantFrom("acme", "globex") },
    { weight: 1, arbitrary: FastCheck.constantFrom("absent", 3, "") }
  ),
  scope: FastCheck.oneof(
    { weight: 6, arbitrary: FastCheck.constantFrom("orders.read", "orders.read orders.write") },
    { weight: 1, arbitrary: FastCheck.constantFrom("absent", 9, "  ") }
  ),
  mutation: FastCheck.oneof(
    { weight: 10, arbitrary: FastCheck.constant({ _tag: "none" as const }) },
    {
      weight: 4,
      arbitrary: FastCheck.record({
        _tag: FastCheck.constant("flip" as const),
        segment: FastCheck.constantFrom(0 as const, 1 as const, 2 as const),
        at: FastCheck.nat(),
        to: FastCheck.integer({ min: 0, max: 63 })
      })
    },
    {
      weight: 1,
      arbitrary: FastCheck.oneof(
        FastCheck.record({ _tag: FastCheck.constant("truncate" as const), by: FastCheck.integer({ min: 1, max: 3 }) }),
        FastCheck.constant({ _tag: "swap" as const }),
        FastCheck.constant({ _tag: "pad" as const }),
        FastCheck.record({
          _tag: FastCheck.constant("realg" as const),
          alg: FastCheck.constantFrom("RS256", "PS256", "ES256", "EdDSA", "HS256", "none")
        })
      )
    }
  )
})

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url")

interface Keys {
  readonly own: Record<(typeof asymmetric)[number], { readonly kid: string; readonly privateKey: crypto.KeyObject }>
  /** An ES256 key the issuer never published. */
  readonly stranger: crypto.KeyObject
  readonly publicPem: string
}

const signWith = (signer: Signer, keys: Keys, input: string): string => {
  const data = Buffer.from(input)
  switch (signer) {
    case "RS256":
      return crypto.sign("sha256", data, keys.own.RS256.privateKey).toString("base64url")
    case "PS256":
      return crypto.sign("sha256", data, {
        key: keys.own.PS256.privateKey,
        padding: crypto.constants.RSA_PKCS1_PSS_PADDING,
        saltLength: 32
      }).toString("base64url")
    case "ES256":
      return crypto.sign("sha256", data, { key: keys.own.ES256.privateKey, dsaEncoding: "ieee-p1363" })
        .toString("base64url")
    case "ES256-other":
      return crypto.sign("sha256", data, { key: keys.stranger, dsaEncoding: "ieee-p1363" }).toString("base64url")
    case "EdDSA":
      return crypto.sign(null, data, keys.own.EdDSA.privateKey).toString("base64url")
    case "HS256":
      return crypto.createHmac("sha256", secret).update(data).digest("base64url")
    case "HS256-public":
      return crypto.createHmac("sha256", keys.publicPem).update(data).digest("base64url")
    case "none":
      return ""
  }
}

const signerAlg = (signer: Signer): string =>
  signer === "ES256-other" ? "ES256" : signer === "HS256-public" ? "HS256" : signer

/** Builds the token a recipe describes. `others` supplies a signature to swap in. */
const build = (r: Recipe, keys: Keys, other: string): string => {
  const alg = r.alg ?? signerAlg(r.signer)
  const ownKid = r.signer in keys.own ? keys.own[r.signer as keyof Keys["own"]].kid : keys.own.ES256.kid
  const kid = r.kid === "own"
    ? ownKid
    : r.kid === "other"
    ? keys.own.RS256.kid
    : r.kid === "unknown"
    ? "k-unknown"
    : undefined
  const header: Record<string, unknown> = { alg }
  if (kid !== undefined && !alg.startsWith("HS")) header["kid"] = kid
  if (r.typ !== "absent") header["typ"] = r.typ
  if (r.cty !== "none") header["cty"] = r.cty
  if (r.crit === "b64") Object.assign(header, { crit: ["b64"], b64: true })
  if (r.crit === "b64-missing") header["crit"] = ["b64"]
  if (r.crit === "exp") header["crit"] = ["exp"]
  if (r.crit === "empty") header["crit"] = []
  const claims: Record<string, unknown> = {}
  const put = (name: string, value: unknown) => {
    if (value !== "absent") claims[name] = value
  }
  put("iss", r.iss)
  put("aud", r.aud)
  put("exp", typeof r.exp === "number" ? now + r.exp : r.exp === "text" ? "soon" : "absent")
  put("iat", typeof r.iat === "number" ? now + r.iat : "absent")
  put("nbf", typeof r.nbf === "number" ? now + r.nbf : "absent")
  put("sub", r.sub)
  put("tid", r.tid)
  put("scope", r.scope)
  claims["jti"] = "j-1"
  const input = `${b64(header)}.${b64(claims)}`
  let token = `${input}.${signWith(r.signer, keys, input)}`
  const m = r.mutation
  switch (m._tag) {
    case "flip": {
      const segments = token.split(".")
      const segment = segments[m.segment]!
      if (segment.length > 0) {
        const at = m.at % segment.length
        segments[m.segment] = segment.slice(0, at) + alphabet[m.to] + segment.slice(at + 1)
      }
      token = segments.join(".")
      break
    }
    case "truncate":
      token = token.slice(0, Math.max(0, token.length - m.by))
      break
    case "swap":
      token = `${input}.${other.split(".")[2] ?? ""}`
      break
    case "pad":
      token = `${token}=`
      break
    case "realg":
      token = `${b64({ ...header, alg: m.alg })}.${token.split(".").slice(1).join(".")}`
      break
  }
  return token
}

type Verdict = { readonly ok: true; readonly principal: unknown } | { readonly ok: false; readonly why: string }

const options: JwtVerifier.Options = {
  issuers: [issuer],
  audience,
  algorithms: [...asymmetric, "HS256"],
  hmacSecret: Redacted.make(new Uint8Array(secret)),
  clockSkew: `${skew} seconds`,
  maxLifetime: `${maxLifetime} seconds`,
  cacheSize: 0
}

/** jose's verdict, then Warden's extra rules, each stated independently of the verifier. */
const oracle = async (token: string, jwks: ReturnType<typeof jose.createLocalJWKSet>): Promise<Verdict> => {
  let payload: jose.JWTPayload
  try {
    const result = await jose.jwtVerify(
      token,
      (header, jws) => header.alg === "HS256" ? new Uint8Array(secret) : jwks(header, jws),
      {
        algorithms: [...asymmetric, "HS256"],
        issuer,
        audience,
        clockTolerance: skew,
        currentDate: new Date(nowMs),
        requiredClaims: ["exp", "iss", "aud"],
        typ: "at+jwt"
      }
    )
    payload = result.payload
  } catch (error) {
    return { ok: false, why: `jose: ${error instanceof Error ? error.constructor.name : String(error)}` }
  }
  const parts = Compact.split(token, 8 * 1024)
  if (Either.isLeft(parts)) return { ok: false, why: `compact: ${parts.left.description}` }
  const { header } = parts.right
  if (Header.check(header) !== undefined) return { ok: false, why: "header member types" }
  const kid = header["kid"]
  if (typeof kid === "string" && (kid.length === 0 || kid.length > 256)) return { ok: false, why: "kid length" }
  const cty = header["cty"]
  if (typeof cty === "string" && cty.toUpperCase().replace(/^APPLICATION\//, "") === "JWT") {
    return { ok: false, why: "nested" }
  }
  const exp = payload.exp!
  if (nowMs >= (exp + skew) * 1000) return { ok: false, why: "window" }
  if (typeof payload.iat === "number" && payload.iat > nowMs / 1000 + skew) return { ok: false, why: "iat" }
  const start = typeof payload.iat === "number"
    ? payload.iat
    : typeof payload.nbf === "number"
    ? payload.nbf
    : nowMs / 1000
  if (exp - start > maxLifetime) return { ok: false, why: "lifetime" }
  for (const claim of ["sub", "client_id", "scope"]) {
    if (payload[claim] !== undefined && typeof payload[claim] !== "string") return { ok: false, why: claim }
  }
  const principal = Claims.toPrincipal(payload, { authenticatedBy: "jwt" })
  if (Either.isLeft(principal)) return { ok: false, why: `principal: ${principal.left.description}` }
  return { ok: true, principal: principal.right }
}

describe("the native path against jose", () => {
  it.scoped("agrees on every one of 5,000 valid, mutated and forged tokens", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(nowMs)
      const generated = yield* Effect.all(asymmetric.map((alg) => TokenIssuer.generateKey(alg, `k-${alg}`)))
      const own = Object.fromEntries(
        generated.map((k) => [k.alg, { kid: k.kid, privateKey: crypto.KeyObject.from(k.privateKey) }])
      ) as unknown as Keys["own"]
      const rsaPublic = crypto.createPublicKey({ key: generated[0]!.publicJwk as crypto.JsonWebKey, format: "jwk" })
      const keys: Keys = {
        own,
        stranger: crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey,
        publicPem: rsaPublic.export({ type: "spki", format: "pem" }).toString()
      }
      const jwksDocument = TokenIssuer.jwks(generated)
      const server = yield* JwksServer
      server.serve(jwksDocument)
      const keyStore = yield* KeyStore.make({ jwksUrl: server.url, allowInsecureLoopback: true }).pipe(
        Effect.provide(NodeHttpClient.layerUndici)
      )
      const verifier = yield* JwtVerifier.make(options).pipe(
        Effect.provideService(KeyStore.KeyStore, keyStore),
        Effect.provide(RevocationStore.layerMemory)
      )
      const jwks = jose.createLocalJWKSet(jwksDocument as jose.JSONWebKeySet)

      const recipes = FastCheck.sample(recipe, { numRuns: 5000, seed: 20261202 })
      const valid = build({ ...recipes[0]!, signer: "ES256", mutation: { _tag: "none" } }, keys, "")
      const tally = { bothAccept: 0, bothRefuse: 0, refusedByExtraRule: 0, now: 0, later: 0 }
      const disagreements: Array<unknown> = []
      for (const r of recipes) {
        const token = build(r, keys, valid)
        const expected = yield* Effect.promise(() => oracle(token, jwks))
        const immediate = verifier.verifyNow(token, nowMs)
        if (immediate === undefined) tally.later++
        else tally.now++
        const answer = immediate ?? (yield* Effect.either(verifier.verify(token)).pipe(
          Effect.map(Either.merge)
        ))
        const accepted = !(answer instanceof Unauthenticated)
        if (accepted !== expected.ok || (expected.ok && accepted && !equalPrincipal(expected.principal, answer))) {
          disagreements.push({ recipe: r, token, expected, warden: accepted ? "accepted" : answer.reason })
        }
        if (expected.ok) tally.bothAccept++
        else if (expected.why.startsWith("jose")) tally.bothRefuse++
        else tally.refusedByExtraRule++
      }
      expect(disagreements.slice(0, 5)).toEqual([])
      // The sample reaches every side: accepted tokens, tokens jose refuses, and tokens only Warden's rules refuse.
      expect(tally.bothAccept).toBeGreaterThan(300)
      expect(tally.bothRefuse).toBeGreaterThan(1000)
      expect(tally.refusedByExtraRule).toBeGreaterThan(30)
      // Most answers need no I/O once the keys are imported: only unknown kids go to the key store.
      expect(tally.now).toBeGreaterThan(tally.later)
    }), { timeout: 120_000 })
})

const equalPrincipal = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b)
