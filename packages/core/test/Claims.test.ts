import { describe, expect, it } from "@effect/vitest"
import { Claims, CurrentUser, GrantSource, Policy, Principal } from "@warden/core"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"

const read = (claims: Record<string, unknown>, mapping: Claims.Mapping & { readonly issuer?: string } = {}) =>
  Claims.toPrincipal(claims, { ...mapping, authenticatedBy: "introspection" })

const reasonOf = (result: ReturnType<typeof read>) => Either.isLeft(result) ? result.left.reason : "ok"

describe("Claims.toPrincipal", () => {
  it("reads a user: subject, tenant, scopes, client, token id, expiry", () => {
    const principal = Either.getOrThrow(
      read({ iss: "https://i", sub: "alice", client_id: "web", tid: "acme", scope: "a b", jti: "j", exp: 10 })
    )
    expect(principal).toMatchObject({
      kind: "user",
      subject: "alice",
      clientId: "web",
      tenant: "acme",
      tenants: ["acme"],
      tokenId: "j",
      expiresAt: 10,
      authenticatedBy: "introspection"
    })
    expect(principal.scopes.tokens).toEqual(["a", "b"])
  })

  it("reads the acting service of an exchanged token (act.sub, the outermost), and refuses a malformed act", () => {
    const base = { iss: "i", sub: "alice", tid: "acme" }
    expect(Either.getOrThrow(read(base)).actor).toBeNull()
    expect(Either.getOrThrow(read({ ...base, act: { sub: "inventory", act: { sub: "orders" } } })).actor).toBe(
      "inventory"
    )
    for (const act of ["orders", ["orders"], null, {}, { sub: 7 }, { sub: "" }, { sub: "a\nb" }]) {
      expect(reasonOf(read({ ...base, act })), JSON.stringify(act)).toBe("claims")
    }
  })

  it("a client acting for itself (no sub, or sub = client_id) is a service; isService can decide otherwise", () => {
    expect(Either.getOrThrow(read({ iss: "i", client_id: "orders", tid: "acme" })).kind).toBe("service")
    expect(Either.getOrThrow(read({ iss: "i", sub: "orders", client_id: "orders", tid: "acme" })).kind).toBe("service")
    const custom = read({ iss: "i", sub: "bot", tid: "acme", svc: true }, { isService: (c) => c["svc"] === true })
    expect(Either.getOrThrow(custom).kind).toBe("service")
  })

  it("takes the configured issuer when the claims carry none, and refuses when there is neither", () => {
    expect(Either.getOrThrow(read({ sub: "a", tid: "acme" }, { issuer: "https://as" })).issuer).toBe("https://as")
    expect(reasonOf(read({ sub: "a", tid: "acme" }))).toBe("claims")
  })

  it("reads multi-tenant principals, scp arrays and permission claims when configured", () => {
    const principal = Either.getOrThrow(
      read(
        { iss: "i", sub: "a", org: "acme", orgs: ["initech"], scp: ["x"], perms: ["orders:*"], no: ["orders:delete"] },
        {
          tenantClaim: "org",
          tenantsClaim: "orgs",
          scopeArrayClaim: "scp",
          permissionsClaim: "perms",
          denyClaim: "no"
        }
      )
    )
    expect(principal.tenants).toEqual(["acme", "initech"])
    expect(principal.scopes.tokens).toEqual(["x"])
    expect(principal.permissions).toEqual({ allow: ["orders:*"], deny: ["orders:delete"] })
  })

  it("reads grants from 'permissions' and denies from 'deny' when nothing is configured", () => {
    const principal = Either.getOrThrow(
      read({ iss: "i", sub: "a", tid: "acme", permissions: ["orders:*"], deny: ["orders:delete"] })
    )
    expect(principal.permissions).toEqual({ allow: ["orders:*"], deny: ["orders:delete"] })
    const off = read({ iss: "i", sub: "a", tid: "acme", permissions: ["orders:*"] }, { permissionsClaim: null })
    expect(Either.getOrThrow(off).permissions).toEqual({ allow: [], deny: [] })
  })

  it("refuses a credential whose deny list holds a malformed rule; a malformed grant is kept and grants nothing", () => {
    const denied = read({ iss: "i", sub: "a", tid: "acme", permissions: ["orders:*"], deny: ["orders:ok", "orders*"] })
    expect(Either.isLeft(denied) && denied.left).toMatchObject({ reason: "claims" })
    expect(Either.isLeft(denied) && denied.left.description).toContain("entry 1 of the token's 'deny' claim")
    expect(Either.isLeft(denied) && denied.left.description).not.toContain("orders*")
    const granted = Either.getOrThrow(read({ iss: "i", sub: "a", tid: "acme", permissions: ["orders*", "a:b"] }))
    expect(granted.permissions.allow).toEqual(["orders*", "a:b"])
  })

  it.each([
    [{ tid: undefined }, "the token's 'tid' claim (its tenant) is missing"],
    [{ tid: 7 }, "the token's 'tid' claim (its tenant) must be a string, not a number"],
    [{ tid: "" }, "the token's 'tid' claim (its tenant) is empty"],
    [{ tid: "x".repeat(129) }, "is longer than 128 characters"],
    [{ tid: "-acme" }, "must be letters, digits, '.', '_' or '-', starting with a letter or digit"],
    [{ tenants: ["ok", "a b"] }, "entry 1 of the token's 'tenants' claim must be letters"],
    [{ tenants: "acme" }, "the token's 'tenants' claim must be an array of strings, not a string"],
    [{ exp: "10" }, "the token's 'exp' claim must be a number, not a string"],
    [{ sub: 1 }, "the token's 'sub' claim must be a string, not a number"],
    [{ client_id: null }, "the token's 'client_id' claim must be a string, not null"],
    [{ scope: ["a"] }, "the token's 'scope' claim must be a string, not an array"],
    [{ sub: "a\u0000b" }, "the token's 'sub' claim contains a control character"],
    [{ permissions: [1] }, "the token's 'permissions' claim must be an array of strings, not an array"]
  ])("names what is wrong with %j", (override, text) => {
    const result = read({ iss: "i", sub: "a", tid: "acme", ...override })
    expect(Either.isLeft(result) && result.left.description).toContain(text)
  })

  it("refuses a permissions claim that is present but null, as it refuses a null tenants claim", () => {
    const mapping = { permissionsClaim: "perms" }
    expect(reasonOf(read({ iss: "i", sub: "a", tid: "acme", perms: null }, mapping))).toBe("claims")
    expect(reasonOf(read({ iss: "i", sub: "a", tid: "acme", tenants: null }))).toBe("claims")
    expect(reasonOf(read({ iss: "i", sub: "a", tid: "acme" }, mapping))).toBe("ok")
  })

  it.each([
    [{ tid: 1 }],
    [{ tid: "" }],
    [{ tid: ["acme"] }],
    [{ tid: "ac me" }],
    [{ tenants: "acme" }],
    [{ tenants: ["ok", 1] }],
    [{ scope: "a  b" }],
    [{ scope: "a\tb" }],
    [{ sub: 1 }],
    [{ sub: undefined, client_id: undefined }],
    [{ exp: "10" }],
    [{ jti: "" }]
  ])("refuses malformed claims %j as 'claims'", (override) => {
    expect(reasonOf(read({ iss: "i", sub: "a", tid: "acme", ...override }))).toBe("claims")
  })
})

describe("Claims.toPrincipal shares what repeats", () => {
  const claims = (extra: Record<string, unknown>) => ({
    iss: "https://i",
    sub: "alice",
    tid: "acme",
    scope: "a b",
    permissions: ["orders:order:read"],
    deny: ["orders:order:delete"],
    ...extra
  })

  it("gives principals with the same claims the same scopes, grant lists and tenants", () => {
    const one = Either.getOrThrow(read(claims({ jti: "1" })))
    const two = Either.getOrThrow(read(claims({ jti: "2" })))
    expect(two.scopes).toBe(one.scopes)
    expect(two.permissions).toBe(one.permissions)
    expect(two.tenants).toBe(one.tenants)
    expect(two.tokenId).toBe("2")
    const other = Either.getOrThrow(read(claims({ scope: "a", permissions: ["orders:order:write"], tid: "globex" })))
    expect(other.scopes.tokens).toEqual(["a"])
    expect(other.permissions.allow).toEqual(["orders:order:write"])
    expect(other.tenants).toEqual(["globex"])
  })

  it("keeps lists apart that a naive key would confuse", () => {
    // One entry holding a line break, against two entries; an empty deny rule, against no deny at all.
    const split = Either.getOrThrow(read(claims({ permissions: ["a", "b"], deny: [] })))
    const joined = Either.getOrThrow(read(claims({ permissions: ["a\nb"], deny: [] })))
    expect(split.permissions.allow).toEqual(["a", "b"])
    expect(joined.permissions.allow).toEqual(["a\nb"])
    expect(reasonOf(read(claims({ permissions: [], deny: [] })))).toBe("ok")
    expect(reasonOf(read(claims({ permissions: [], deny: [""] })))).toBe("claims")
    expect(reasonOf(read(claims({ permissions: [""], deny: [] })))).toBe("ok")
    // Interning the first answer must not decide the second.
    expect(reasonOf(read(claims({ permissions: ["x"], deny: ["y:z:w"] })))).toBe("ok")
    expect(reasonOf(read(claims({ permissions: ["x", "y:z:w"], deny: [] })))).toBe("ok")
    expect(Either.getOrThrow(read(claims({ permissions: ["x", "y:z:w"], deny: [] }))).permissions.deny).toEqual([])
  })

  it("tells lists apart by every entry while it answers recent ones by comparing them", () => {
    const lists: ReadonlyArray<readonly [ReadonlyArray<string>, ReadonlyArray<string>]> = [
      [["a:b:c", "d:e:f"], ["g:h:i"]],
      [["a:b:c", "d:e:f"], []],
      [["a:b:c"], ["d:e:f", "g:h:i"]],
      [["a:b:c", "d:e:g"], ["g:h:i"]],
      [["d:e:f", "a:b:c"], ["g:h:i"]],
      [["a:b:c", "d:e:f", "g:h:i"], []]
    ]
    // Twice over, so the second pass meets each pair after more others than the recent lists hold.
    const seen = new Map<number, unknown>()
    for (let pass = 0; pass < 2; pass++) {
      lists.forEach(([allow, deny], i) => {
        const grants = Either.getOrThrow(read(claims({ permissions: [...allow], deny: [...deny] }))).permissions
        expect(grants.allow).toEqual(allow)
        expect(grants.deny).toEqual(deny)
        if (pass === 1) expect(grants).toBe(seen.get(i))
        seen.set(i, grants)
      })
    }
    // A refusal is remembered as a refusal, not as the grants read before it.
    expect(reasonOf(read(claims({ permissions: ["a:b:c"], deny: ["bad rule"] })))).toBe("claims")
    expect(reasonOf(read(claims({ permissions: ["a:b:c"], deny: ["bad rule"] })))).toBe("claims")
  })

  it("keeps tenant lists apart by every member", () => {
    const a = Either.getOrThrow(read(claims({ tenants: ["globex"] })))
    const b = Either.getOrThrow(read(claims({ tenants: ["globex", "initech"] })))
    expect(a.tenants).toEqual(["acme", "globex"])
    expect(b.tenants).toEqual(["acme", "globex", "initech"])
  })
})

describe("Principal.unsafeMake", () => {
  it("builds the principal Principal.make builds, with the class's fields in the class's order", () => {
    const principal = Either.getOrThrow(
      read({ iss: "https://i", sub: "alice", tid: "acme", tenants: ["globex"], scope: "a", jti: "j", exp: 10, iat: 5 })
    )
    expect(Object.keys(principal)).toEqual(Object.keys(Principal.Principal.fields))
    expect(principal).toBeInstanceOf(Principal.Principal)
    const made = Principal.make({
      subject: "alice",
      tenant: "acme",
      tenants: ["globex"],
      issuer: "https://i",
      tokenId: "j",
      expiresAt: 10,
      issuedAt: 5,
      authenticatedBy: "introspection",
      scopes: ["a"]
    })
    expect({ ...principal, scopes: principal.scopes.tokens }).toEqual({ ...made, scopes: made.scopes.tokens })
  })
})

describe("machine tokens as providers issue them", () => {
  const auth0 = {
    iss: "https://tenant.auth0.test/",
    sub: "Xy12abc@clients",
    azp: "Xy12abc",
    gty: "client-credentials",
    scope: "stock.read"
  }

  it("the client comes from client_id, else azp; the default rule sees sub = client as a service", () => {
    const byAzp = Either.getOrThrow(read({ iss: "i", sub: "svc", azp: "svc", tid: "acme" }))
    expect([byAzp.kind, byAzp.clientId]).toEqual(["service", "svc"])
    const both = Either.getOrThrow(read({ iss: "i", sub: "u", client_id: "web", azp: "other", tid: "acme" }))
    expect([both.kind, both.clientId]).toEqual(["user", "web"])
    expect(reasonOf(read({ iss: "i", sub: "u", azp: 42, tid: "acme" }))).toBe("claims")
  })

  it("Auth0's rule: gty client-credentials, or a sub ending in @clients, is a service", () => {
    const isService = Claims.services.any(Claims.services.clientCredentials, Claims.services.auth0)
    expect(Either.getOrThrow(read({ ...auth0, tid: "acme" }, { isService })).kind).toBe("service")
    expect(Either.getOrThrow(read({ ...auth0, gty: undefined, tid: "acme" }, { isService })).kind).toBe("service")
    expect(
      Either.getOrThrow(read({ ...auth0, gty: undefined, sub: "auth0|alice", tid: "acme" }, { isService })).kind
    ).toBe("user")
    // Without the rule, the same token is a user's: the default knows only the client-credentials shape.
    expect(Either.getOrThrow(read({ ...auth0, tid: "acme" })).kind).toBe("user")
  })

  it("a rule per issuer applies to its issuer's tokens only", () => {
    const isService = Claims.services.byIssuer({ "https://tenant.auth0.test/": Claims.services.auth0 })
    expect(Either.getOrThrow(read({ ...auth0, tid: "acme" }, { isService })).kind).toBe("service")
    expect(Either.getOrThrow(read({ ...auth0, iss: "https://other.test/", tid: "acme" }, { isService })).kind)
      .toBe("user")
  })

  it("a missing tenant claim is mapped only by an explicit rule, by client before issuer; a malformed one never", () => {
    expect(reasonOf(read(auth0))).toBe("claims")
    const tenantWhenMissing = {
      byClient: { Xy12abc: "acme" },
      byIssuer: { "https://tenant.auth0.test/": "globex" }
    }
    expect(Either.getOrThrow(read(auth0, { tenantWhenMissing })).tenant).toBe("acme")
    expect(Either.getOrThrow(read({ ...auth0, azp: "other" }, { tenantWhenMissing })).tenant).toBe("globex")
    expect(reasonOf(read({ ...auth0, iss: "https://x.test/", azp: "other" }, { tenantWhenMissing }))).toBe("claims")
    expect(reasonOf(read({ ...auth0, tid: "" }, { tenantWhenMissing }))).toBe("claims")
    // A rule table is data: inherited names (constructor, __proto__) map nothing.
    expect(reasonOf(read({ ...auth0, azp: "constructor", iss: "x" }, { tenantWhenMissing }))).toBe("claims")
  })
})

describe("declared claims", () => {
  const Profile = Claims.declare(
    "Profile",
    Schema.Struct({ roles: Schema.Array(Schema.String), email: Schema.optional(Schema.String) })
  )
  const base = { iss: "i", sub: "alice", tid: "acme" }

  it("are decoded with the principal and read typed from it; a principal read without them has none", () => {
    const principal = Either.getOrThrow(read({ ...base, roles: ["admin"], email: "a@x.test" }, { declared: Profile }))
    expect(Profile.of(principal)).toEqual(Option.some({ roles: ["admin"], email: "a@x.test" }))
    const plain = Either.getOrThrow(read({ ...base, roles: ["admin"] }))
    expect(Profile.of(plain)).toEqual(Option.none())
    const Other = Claims.declare("Other", Schema.Struct({ roles: Schema.Array(Schema.String) }))
    expect(Other.of(principal)).toEqual(Option.none())
  })

  it("a token whose declared claims do not decode is refused, naming the claim and never its value", () => {
    const result = read({ ...base, roles: ["admin", 42], email: "s3cret-mail" }, { declared: Profile })
    expect(reasonOf(result)).toBe("claims")
    const description = Either.isLeft(result) ? result.left.description : ""
    expect(description).toContain("'roles.1'")
    expect(description).not.toContain("42")
    expect(reasonOf(read({ ...base, email: "x" }, { declared: Profile }))).toBe("claims")
  })

  it("Policy.claim decides over them as data, and refuses a caller without them", () => {
    const admin = Policy.claim(Profile, ({ roles }) => roles.includes("admin"), "role admin")
    const decide = (claims: Record<string, unknown>, declared = true) => {
      const principal = Either.getOrThrow(read({ ...base, ...claims }, declared ? { declared: Profile } : {}))
      const grants = GrantSource.fromClaims(principal)
      return Policy.evaluate(admin, { principal, tenant: principal.tenant, grants })
    }
    expect(decide({ roles: ["admin"] })).toMatchObject({ _tag: "Allowed", grant: "role admin" })
    expect(decide({ roles: ["viewer"] })).toMatchObject({ _tag: "Denied", reason: "claim", requirement: "role admin" })
    expect(decide({ roles: ["admin"] }, false)).toMatchObject({ _tag: "Denied", reason: "claim" })
  })

  it("Declared.get reads them in a request, and refuses when the principal was not read with them", () => {
    const principal = Either.getOrThrow(read({ ...base, roles: ["a"] }, { declared: Profile }))
    const got = Effect.runSync(Profile.get.pipe(Effect.provideService(CurrentUser, principal)))
    expect(got.roles).toEqual(["a"])
    const plain = Either.getOrThrow(read(base))
    const refused = Effect.runSync(Effect.flip(Profile.get.pipe(Effect.provideService(CurrentUser, plain))))
    expect(refused).toMatchObject({ _tag: "Forbidden", reason: "claim" })
  })
})
