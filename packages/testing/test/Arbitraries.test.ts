/**
 * The arbitraries produce what they claim: every valid value passes Warden's
 * own checks, every invalid one fails them, and generated principals survive
 * the trip through claims.
 */
import { describe, expect, it } from "@effect/vitest"
import { Claims, Permission, Principal, Scopes, Tenant } from "@warden/core"
import { Arbitraries, ClaimSet, Mutation } from "@warden/testing"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"

const runs = { fastCheck: { numRuns: 500 } }

/** The RFC 6749 §3.3 grammar, written independently of `Scopes.parse`. */
const grammar = /^[\x21\x23-\x5B\x5D-\x7E]+(?: [\x21\x23-\x5B\x5D-\x7E]+)*$/

describe("tenants and subjects", () => {
  it.prop("every tenant id is a TenantId; every invalid tenant id is not", [
    Arbitraries.tenantId,
    Arbitraries.invalidTenantId
  ], ([valid, invalid]) => {
    expect(Option.isSome(Tenant.decodeOption(valid))).toBe(true)
    expect(Option.isNone(Tenant.decodeOption(invalid))).toBe(true)
  }, runs)

  it.prop("a tenant pair is two different tenants", [Arbitraries.tenantPair], ([[a, b]]) => {
    expect(a).not.toBe(b)
  }, runs)

  it.prop("subject and client ids pass their schemas", [Arbitraries.subjectId, Arbitraries.clientId], ([s, c]) => {
    expect(Schema.is(Principal.SubjectId)(s)).toBe(true)
    expect(Schema.is(Principal.ClientId)(c)).toBe(true)
  }, runs)

  it("tenant ids include common ones that differ only by case", () => {
    const seen = new Set(FastCheck.sample(Arbitraries.tenantId, { numRuns: 2000, seed: 1 }))
    expect(seen.has(Schema.decodeSync(Tenant.TenantId)("acme"))).toBe(true)
    expect(seen.has(Schema.decodeSync(Tenant.TenantId)("Acme"))).toBe(true)
  })
})

describe("scopes", () => {
  it.prop("every valid scope string is in the grammar, parses, and renders back without its repeats", [
    Arbitraries.scopeString
  ], ([s]) => {
    expect(s).toMatch(grammar)
    const parsed = Scopes.parse(s)
    expect(Either.isRight(parsed)).toBe(true)
    expect(Either.map(parsed, Scopes.render)).toEqual(Either.right([...new Set(s.split(" "))].join(" ")))
  }, runs)

  it.prop("no invalid scope string is in the grammar, parses, or decodes", [Arbitraries.invalidScopeString], ([s]) => {
    expect(s).not.toMatch(grammar)
    expect(Either.isLeft(Scopes.parse(s))).toBe(true)
    expect(Either.isLeft(Schema.decodeEither(Scopes.FromString)(s))).toBe(true)
  }, runs)

  it.prop("scopes drawn from a vocabulary hold only its tokens", [
    FastCheck.uniqueArray(Arbitraries.scopeToken, { minLength: 1, maxLength: 5 }).chain((from) =>
      FastCheck.tuple(FastCheck.constant(from), Arbitraries.scopes({ from }))
    )
  ], ([[from, scopes]]) => {
    expect(scopes.tokens.every((t) => from.includes(t))).toBe(true)
  }, runs)
})

describe("permissions", () => {
  it.prop("permissions and grants validate; each wildcard of a permission grants it", [
    Arbitraries.permission,
    Arbitraries.grant
  ], ([permission, grant]) => {
    expect(Either.isRight(Permission.validate(permission))).toBe(true)
    expect(Either.isRight(Permission.validateGrant(grant))).toBe(true)
    for (const wildcard of Arbitraries.wildcardsOf(permission)) {
      expect(Permission.compile({ allow: [wildcard], deny: [] }).check(permission)).toEqual({
        _tag: "Allowed",
        grant: wildcard
      })
    }
  }, runs)

  it.prop("a malformed grant is not a grant: it is ignored, and grants nothing", [
    Arbitraries.malformedGrant,
    Arbitraries.permission
  ], ([malformed, permission]) => {
    expect(Either.isLeft(Permission.validateGrant(malformed))).toBe(true)
    const set = Permission.compile({ allow: [malformed], deny: [] })
    expect(set.ignored).toEqual([malformed])
    expect(set.check(permission)).toEqual({ _tag: "NotGranted" })
  }, runs)

  it.prop("an invalid permission does not validate, and no grant covers it", [
    Arbitraries.invalidPermission,
    Arbitraries.grants()
  ], ([invalid, grants]) => {
    expect(Either.isLeft(Permission.validate(invalid))).toBe(true)
    expect(Permission.compile({ allow: [...grants.allow, "*"], deny: [] }).check(invalid)._tag).not.toBe("Allowed")
  }, runs)

  it.prop("a catalogue's grants come from its permissions and their wildcards, malformed ones only when asked", [
    Arbitraries.permissions.chain((ps) =>
      FastCheck.tuple(
        FastCheck.constant(ps),
        Arbitraries.grants({ from: ps }),
        Arbitraries.grants({ from: ps, malformed: true })
      )
    )
  ], ([[ps, grants, withMalformed]]) => {
    const catalogue = Permission.catalogue(...ps)
    const covered = new Set(ps.flatMap((p) => [p, ...Arbitraries.wildcardsOf(p)]))
    for (const g of [...grants.allow, ...grants.deny]) expect(covered.has(g)).toBe(true)
    expect(ps.every((p) => catalogue.has(p))).toBe(true)
    for (const g of [...withMalformed.allow, ...withMalformed.deny]) {
      expect(covered.has(g) || Either.isLeft(Permission.validateGrant(g))).toBe(true)
    }
  }, runs)
})

describe("principals and claims", () => {
  it.prop(
    "principals are well-formed users and services, and sign their own tenant",
    [Arbitraries.principal()],
    ([p]) => {
      expect(Schema.is(Principal.Principal)(p)).toBe(true)
      expect(p.tenants[0]).toBe(p.tenant)
      expect(p.signs(p.tenant)).toBe(true)
      if (p.kind === "service") expect(p.clientId).toBe(p.subject)
      else expect(p.clientId).not.toBe(p.subject)
    },
    runs
  )

  it("generates users and services, single- and multi-tenant, with and without scopes and permissions", () => {
    const sample = FastCheck.sample(Arbitraries.principal(), { numRuns: 500, seed: 7 })
    const has = (f: (p: Principal.Principal) => boolean) => sample.some(f)
    expect([
      has((p) => p.kind === "user"),
      has((p) => p.kind === "service"),
      has((p) => p.tenants.length === 1),
      has((p) => p.tenants.length > 1),
      has((p) => p.scopes.size === 0),
      has((p) => p.scopes.size > 0),
      has((p) => p.permissions.allow.length > 0),
      has((p) => p.permissions.deny.length > 0)
    ]).toEqual([true, true, true, true, true, true, true, true])
  })

  it.prop("options fix the kind and the tenant", [
    Arbitraries.user({ tenant: FastCheck.constant("acme") }),
    Arbitraries.service({ otherTenants: FastCheck.constant(["globex"]) })
  ], ([u, s]) => {
    expect([u.kind, u.tenant]).toEqual(["user", "acme"])
    expect([s.kind, s.signs("globex"), s.tenants.length <= 2]).toEqual(["service", true, true])
  }, runs)

  it.prop(
    "a principal's claim set reads back (Claims.toPrincipal) as the same principal",
    [Arbitraries.principal()],
    ([p]) => {
      const claims = { ...ClaimSet.fromPrincipal(p), iss: p.issuer }
      const read = Claims.toPrincipal(claims, { ...ClaimSet.mapping, authenticatedBy: "test" })
      expect(
        Either.map(read, (r) => [r.kind, r.subject, r.clientId, r.tenant, r.tenants, r.scopes.tokens, r.permissions])
      )
        .toEqual(Either.right([p.kind, p.subject, p.clientId, p.tenant, p.tenants, p.scopes.tokens, p.permissions]))
    },
    runs
  )
})

describe("mutations", () => {
  it.prop("hostile mutations are never equivalent re-encodings; equivalent ones always are", [
    Arbitraries.hostileMutation,
    Arbitraries.equivalentReEncoding,
    Arbitraries.reEncoding
  ], ([hostile, equivalent, reEncoding]) => {
    expect(Mutation.isEquivalent(hostile)).toBe(false)
    expect(Mutation.isEquivalent(equivalent)).toBe(true)
    expect(Mutation.isEquivalent(reEncoding) || reEncoding._tag === "Respell").toBe(true)
  }, runs)

  it("hostile mutations cover every family", () => {
    const tags = new Set(FastCheck.sample(Arbitraries.hostileMutation, { numRuns: 2000, seed: 3 }).map((m) => m._tag))
    expect([...tags].sort()).toEqual([
      "BitFlip",
      "ClaimTamper",
      "DuplicateMember",
      "EmbeddedKey",
      "Expired",
      "ForeignKey",
      "HeaderTamper",
      "KeyConfusion",
      "MalformedClaim",
      "Misissued",
      "NotYetValid",
      "Respell",
      "Truncated",
      "WrongTenant"
    ])
  })
})
