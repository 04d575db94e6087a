/**
 * 4. Permission checks on one multi-tenant data set: 1,000 users, 10 tenants,
 *    100 permissions, six roles per tenant (wildcard roles and denies among
 *    them). Warden (the compiled matcher, and `Policy.permission` inside
 *    Effect) against node-casbin (RBAC with domains + keyMatch, `enforceSync`)
 *    and @casl/ability. All three must agree on a sample before anything is
 *    timed; a disagreement fails the run.
 */
import { AbilityBuilder, createMongoAbility } from "@casl/ability"
import type { MongoAbility } from "@casl/ability"
import { CurrentScopes, Permission, Policy, Principal, Scopes } from "@warden/core"
import type { Tenant } from "@warden/core"
import { newEnforcer, newModelFromString } from "casbin"
import type { Enforcer } from "casbin"
import * as Effect from "effect/Effect"
import { check, prng, timeCases } from "./lib/harness.js"
import type { Timing } from "./lib/harness.js"

const modules = {
  inventory: ["stock", "item", "warehouse", "supplier", "transfer"],
  orders: ["order", "shipment", "return", "invoice", "quote"],
  billing: ["payment", "refund", "plan", "card", "payout"],
  reports: ["revenue", "salary", "usage", "audit", "forecast"],
  tenant: ["user", "role", "setting", "apikey", "webhook"]
} as const
type Module = keyof typeof modules
const actions = ["read", "list", "write", "delete"] as const

export const permissions: ReadonlyArray<string> = Object.entries(modules).flatMap(([module, resources]) =>
  resources.flatMap((resource) => actions.map((action) => `${module}:${resource}:${action}`))
)

export const tenants: ReadonlyArray<string> = Array.from({ length: 10 }, (_, i) => `tenant-${i}`)
export const userCount = 1_000

interface Role {
  readonly name: string
  readonly allow: ReadonlyArray<string>
  readonly deny: ReadonlyArray<string>
}

/** The six roles of tenant `t`: the same shapes, with per-tenant denies so that the domain matters. */
export const rolesOf = (t: number): ReadonlyArray<Role> => {
  const pick = (module: Module, offset: number) => modules[module][(t + offset) % 5]!
  return [
    { name: "owner", allow: ["*"], deny: [`billing:${pick("billing", 0)}:delete`, "tenant:apikey:*"] },
    {
      name: "viewer",
      allow: permissions.filter((p) => p.endsWith(":read") || p.endsWith(":list")),
      deny: [`reports:${pick("reports", 1)}:read`]
    },
    {
      name: "inventory-manager",
      allow: ["inventory:*", "orders:order:read", "orders:shipment:read"],
      deny: [`inventory:${pick("inventory", 0)}:delete`]
    },
    {
      name: "orders-clerk",
      allow: ["orders:order:*", "orders:shipment:*", "orders:return:write", "inventory:stock:read"],
      deny: ["orders:order:delete"]
    },
    {
      name: "billing-admin",
      allow: ["billing:*", "reports:revenue:read", "reports:revenue:list"],
      deny: [`billing:${pick("billing", 1)}:*`]
    },
    {
      name: "auditor",
      allow: ["reports:*", "tenant:*"],
      deny: ["tenant:user:write", "tenant:user:delete", `reports:${pick("reports", 2)}:*`]
    }
  ]
}

interface Membership {
  readonly user: string
  readonly tenant: number
  readonly roles: ReadonlyArray<Role>
}

interface Query {
  readonly membership: number
  readonly user: string
  readonly tenant: string
  readonly permission: string
  readonly action: string
  readonly subject: string
}

/** Users belong to 1–4 tenants, with 1–2 roles in each. */
const makeData = () => {
  const random = prng(7)
  const roles = tenants.map((_, t) => rolesOf(t))
  const memberships: Array<Membership> = []
  const index = new Map<string, number>()
  for (let u = 0; u < userCount; u++) {
    const user = `user-${u}`
    const chosen = new Set<number>()
    const count = 1 + random.int(4)
    while (chosen.size < count) chosen.add(random.int(tenants.length))
    for (const t of chosen) {
      const own = new Set<Role>()
      const n = 1 + random.int(2)
      while (own.size < n) own.add(random.pick(roles[t]!))
      index.set(`${user}@${t}`, memberships.length)
      memberships.push({ user, tenant: t, roles: [...own] })
    }
  }
  // A membership slot for "no roles in this tenant".
  const nobody = memberships.length
  const byUser = new Map<string, Array<Membership>>()
  for (const m of memberships) byUser.set(m.user, [...(byUser.get(m.user) ?? []), m])
  const queries = (n: number, seed: number): Array<Query> => {
    const r = prng(seed)
    return Array.from({ length: n }, () => {
      const user = `user-${r.int(userCount)}`
      // Seven in ten queries are in a tenant of the user's, the rest in any tenant.
      let tenant = r.int(tenants.length)
      if (r.next() < 0.7) {
        tenant = r.pick(byUser.get(user)!).tenant
      }
      const permission = r.pick(permissions)
      const [module, resource, action] = permission.split(":") as [string, string, string]
      return {
        membership: index.get(`${user}@${tenant}`) ?? nobody,
        user,
        tenant: tenants[tenant]!,
        permission,
        action,
        subject: `${module}:${resource}`
      }
    })
  }
  return { roles, memberships, queries, nobody }
}

const grantsOf = (m: Membership | undefined): Permission.Grants => ({
  allow: m === undefined ? [] : m.roles.flatMap((r) => r.allow),
  deny: m === undefined ? [] : m.roles.flatMap((r) => r.deny)
})

/** Casbin's RBAC-with-domains model, with keyMatch for wildcard objects and deny-wins. */
const casbinModel = `
[request_definition]
r = sub, dom, obj

[policy_definition]
p = sub, dom, obj, eft

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow)) && !some(where (p.eft == deny))

[matchers]
m = g(r.sub, p.sub, r.dom) && r.dom == p.dom && keyMatch(r.obj, p.obj)
`

/** CASL: subject type `module:resource`, action the last segment; wildcards expand over the catalogue. */
const caslAbility = (m: Membership | undefined): MongoAbility => {
  const { build, can, cannot } = new AbilityBuilder<MongoAbility>(createMongoAbility)
  const apply = (rule: typeof can, grant: string) => {
    if (grant === "*") return rule("manage", "all")
    const segments = grant.split(":")
    if (segments[segments.length - 1] === "*") {
      const prefix = segments.slice(0, -1)
      if (prefix.length === 1) {
        for (const resource of modules[prefix[0] as Module]) rule("manage", `${prefix[0]}:${resource}`)
      } else {
        rule("manage", prefix.join(":"))
      }
      return
    }
    rule(segments[2]!, `${segments[0]}:${segments[1]}`)
  }
  const grants = grantsOf(m)
  for (const grant of grants.allow) apply(can, grant)
  // Later rules win in CASL: every `cannot` after every `can` makes denies win, as in Warden and the casbin model.
  for (const grant of grants.deny) apply(cannot, grant)
  return build()
}

export const names = {
  matcher: "Warden PermissionSet.check (compiled matcher)",
  pipeline: "Warden Policy.evaluate (the request pipeline's decision, as data)",
  effect: "Warden Policy.permission inside Effect (decide, CurrentScopes provided)",
  effectInHandler: "Warden Policy.permission inside Effect (yield* policy, CurrentScopes in context)",
  compileAndCheck: "Warden compile the grants + 1 check (a request's first check)",
  casbin: "node-casbin enforceSync (RBAC with domains + keyMatch)",
  casl: "@casl/ability can() (ability per user and tenant)"
} as const

export interface PolicyResults {
  readonly timings: Array<Timing>
  readonly data: {
    readonly memberships: number
    readonly casbinPolicies: number
    readonly casbinGroupings: number
    readonly sample: number
    readonly casbinSample: number
    readonly allowed: number
    readonly denied: number
    readonly notGranted: number
    readonly setupMs: { readonly warden: number; readonly casbin: number; readonly casl: number }
  }
  readonly workloads: { readonly effect: () => unknown; readonly matcher: () => unknown }
}

export const run = async (rounds: number, log: (line: string) => void): Promise<PolicyResults> => {
  const { memberships, nobody, queries, roles } = makeData()

  let t0 = performance.now()
  const sets = memberships.map((m) => Permission.compile(grantsOf(m)))
  sets.push(Permission.compile(Permission.none))
  const wardenMs = performance.now() - t0
  const catalogue = Permission.catalogue(...permissions)
  const policies = new Map(permissions.map((p) => [p, Policy.permission(catalogue, p)]))
  const grants = sets.map((permissions) => ({ scopes: Scopes.empty, permissions }))
  // What the pipeline decides over: the principal, the tenant, the grants for (principal, tenant).
  const somebody = Principal.make({ subject: "user-0", tenant: "tenant-0", issuer: "https://identity.test" })
  const inputs = grants.map((g) => ({ principal: somebody, tenant: "tenant-0" as Tenant.TenantId, grants: g }))

  t0 = performance.now()
  const enforcer: Enforcer = await newEnforcer(newModelFromString(casbinModel))
  const pLines: Array<Array<string>> = []
  roles.forEach((tenantRoles, t) => {
    for (const role of tenantRoles) {
      for (const allow of role.allow) pLines.push([role.name, tenants[t]!, allow, "allow"])
      for (const deny of role.deny) pLines.push([role.name, tenants[t]!, deny, "deny"])
    }
  })
  const gLines = memberships.flatMap((m) => m.roles.map((r) => [m.user, r.name, tenants[m.tenant]!]))
  await enforcer.addPolicies(pLines)
  await enforcer.addGroupingPolicies(gLines)
  const casbinMs = performance.now() - t0

  t0 = performance.now()
  const abilities = memberships.map((m) => caslAbility(m))
  abilities.push(caslAbility(undefined))
  const caslMs = performance.now() - t0
  void nobody

  // Agreement on a sample before any timing.
  const sample = queries(20_000, 11)
  const casbinSample = 2_000
  let allowed = 0, denied = 0, notGranted = 0
  for (const [i, q] of sample.entries()) {
    const warden = sets[q.membership]!.check(q.permission)
    const viaEffect = Effect.runSync(
      Policy.decide(policies.get(q.permission)!).pipe(Effect.provideService(CurrentScopes, grants[q.membership]!))
    )
    // casbin takes milliseconds per query: it answers the first 2,000.
    const casbin = i < casbinSample ? enforcer.enforceSync(q.user, q.tenant, q.permission) : warden._tag === "Allowed"
    const casl = abilities[q.membership]!.can(q.action, q.subject)
    const pipeline = Policy.evaluate(policies.get(q.permission)!, inputs[q.membership]!)
    const ok = warden._tag === "Allowed"
    if (
      ok !== casbin || ok !== casl || ok !== (viaEffect._tag === "Allowed") || ok !== (pipeline?._tag === "Allowed")
    ) {
      throw new Error(
        `policy engines disagree on ${q.user} in ${q.tenant} for ${q.permission}: ` +
          `Warden ${warden._tag}, Policy ${viaEffect._tag}, casbin ${casbin}, CASL ${casl}`
      )
    }
    if (warden._tag === "Allowed") allowed++
    else if (warden._tag === "Denied") denied++
    else notGranted++
  }
  check(allowed > 1000 && denied > 100 && notGranted > 1000, "the sample does not exercise allows, denies and gaps")
  log(
    `  agreement: ${sample.length} queries, ${allowed} allowed, ${denied} denied by a rule, ${notGranted} not granted`
  )

  // Timing: every engine cycles through the same 4,096 queries in the same order.
  const timed = queries(4096, 13)
  const mask = timed.length - 1
  const batch = 256
  let a = 0, b = 0, c = 0, d = 0, e = 0, f = 0, g = 0
  const matcher = () => {
    let n = 0
    for (let i = 0; i < batch; i++) {
      const q = timed[a++ & mask]!
      if (sets[q.membership]!.check(q.permission)._tag === "Allowed") n++
    }
    return n
  }
  const pipelineBatch = () => {
    let n = 0
    for (let i = 0; i < batch; i++) {
      const q = timed[g++ & mask]!
      if (Policy.evaluate(policies.get(q.permission)!, inputs[q.membership]!)?._tag === "Allowed") n++
    }
    return n
  }
  const caslBatch = () => {
    let n = 0
    for (let i = 0; i < batch; i++) {
      const q = timed[f++ & mask]!
      if (abilities[q.membership]!.can(q.action, q.subject)) n++
    }
    return n
  }
  const decideBatch = Effect.suspend(() =>
    Effect.gen(function*() {
      let n = 0
      for (let i = 0; i < batch; i++) {
        const q = timed[b++ & mask]!
        const decision = yield* Policy.decide(policies.get(q.permission)!).pipe(
          Effect.provideService(CurrentScopes, grants[q.membership]!)
        )
        if (decision._tag === "Allowed") n++
      }
      return n
    })
  )
  // As a handler evaluates a policy: CurrentScopes already in its context (one principal per batch).
  const handlerBatch = Effect.suspend(() => {
    const q0 = timed[c & mask]!
    return Effect.gen(function*() {
      let n = 0
      for (let i = 0; i < batch; i++) {
        const q = timed[c++ & mask]!
        const decision = yield* Policy.decide(policies.get(q.permission)!)
        if (decision._tag === "Allowed") n++
      }
      return n
    }).pipe(Effect.provideService(CurrentScopes, grants[q0.membership]!))
  })
  const effect = () => Effect.runSync(decideBatch)
  const timings = await timeCases([
    { name: names.matcher, ops: batch, fn: matcher },
    { name: names.pipeline, ops: batch, fn: pipelineBatch },
    { name: names.effect, ops: batch, fn: effect },
    { name: names.effectInHandler, ops: batch, fn: () => Effect.runSync(handlerBatch) },
    {
      name: names.compileAndCheck,
      fn: () => {
        const q = timed[d++ & mask]!
        return Permission.compile(grantsOf(memberships[q.membership])).check(q.permission)
      }
    },
    {
      name: names.casbin,
      fn: () => {
        const q = timed[e++ & mask]!
        return enforcer.enforceSync(q.user, q.tenant, q.permission)
      }
    },
    // Batched as Warden's matcher and pipeline are, so each figure is the check alone.
    { name: names.casl, ops: batch, fn: caslBatch }
  ], rounds)
  log(`  ${timings.map((t) => `${t.name} ${t.median.toFixed(0)} ns`).join("; ")}`)

  return {
    timings,
    data: {
      memberships: memberships.length,
      casbinPolicies: pLines.length,
      casbinGroupings: gLines.length,
      sample: sample.length,
      casbinSample,
      allowed,
      denied,
      notGranted,
      setupMs: { warden: wardenMs, casbin: casbinMs, casl: caslMs }
    },
    workloads: { effect, matcher }
  }
}
