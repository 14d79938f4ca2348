// kube_check.mjs: offline checks of rendered Kubernetes manifests (tests/e2e/kube.bats).
//
//   node kube_check.mjs NODE_MODULES schema FILE...      every object against the API
//       schemas of the npm package kubernetes-models (installed by the test into a
//       temp dir: NODE_MODULES holds kubernetes-models and yaml)
//   node kube_check.mjs NODE_MODULES restricted FILE...  every pod template against
//       the Pod Security Standards "restricted" level, field by field, plus dataenv's
//       own rules (runAsUser 10001, readOnlyRootFilesystem)
//
// Prints one line per object checked ("ok Kind/name") and one per problem
// ("FILE: Kind/name: path: what"); exits 1 when there is any problem.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [modules, mode, ...files] = process.argv.slice(2);
if (!modules || !["schema", "restricted"].includes(mode) || files.length === 0) {
  console.error("usage: kube_check.mjs NODE_MODULES schema|restricted FILE...");
  process.exit(2);
}
const YAML = await import(pathToFileURL(join(modules, "yaml/dist/index.js")).href);
let problems = 0;
const problem = (where, msg) => {
  problems++;
  console.log(`${where}: ${msg}`);
};

function objects(file) {
  const out = [];
  for (const doc of YAML.parseAllDocuments(readFileSync(file, "utf8"))) {
    if (doc.errors.length) {
      for (const e of doc.errors) problem(file, `YAML: ${e.message}`);
      continue;
    }
    const obj = doc.toJS();
    if (obj != null) out.push(obj);
  }
  return out;
}

const name = (o) => `${o?.kind}/${o?.metadata?.name}`;

async function checkSchema(file, o) {
  const where = `${file}: ${name(o)}`;
  if (typeof o.apiVersion !== "string" || typeof o.kind !== "string")
    return problem(where, "no apiVersion or kind");
  const [group, version] = o.apiVersion.includes("/") ? o.apiVersion.split("/") : [null, o.apiVersion];
  const dir = group ? join(modules, "kubernetes-models", group, version) : join(modules, "kubernetes-models", version);
  const mod = join(dir, `${o.kind}.js`);
  if (!/^[A-Za-z0-9]+$/.test(o.kind) || !existsSync(mod))
    return problem(where, `unknown kind ${o.kind} in ${o.apiVersion}`);
  const Kind = (await import(pathToFileURL(mod).href))[o.kind];
  try {
    new Kind(o).validate();
    console.log(`ok ${o.apiVersion} ${name(o)}`);
  } catch (e) {
    problem(where, `schema: ${e.message}`);
  }
}

// Pod Security Standards, restricted (which includes baseline), per field.
const RESTRICTED_VOLUMES = ["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
  "persistentVolumeClaim", "projected", "secret"];
const BASELINE_CAPS = ["AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL",
  "MKNOD", "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"];
const SAFE_SYSCTLS = ["kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range",
  "net.ipv4.ip_unprivileged_port_start", "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range",
  "net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
  "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes"];

function podSpecOf(o) {
  if (o.kind === "Pod") return ["spec", o.spec];
  if (["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"].includes(o.kind))
    return ["spec.template.spec", o.spec?.template?.spec];
  if (o.kind === "CronJob") return ["spec.jobTemplate.spec.template.spec", o.spec?.jobTemplate?.spec?.template?.spec];
  return [null, null];
}

function checkRestricted(file, o) {
  const [base, spec] = podSpecOf(o);
  if (!base) return;
  const where = `${file}: ${name(o)}`;
  const before = problems;
  const bad = (path, msg) => problem(where, `${base}.${path}: ${msg}`);
  if (!spec) return bad("", "no pod spec");
  const psc = spec.securityContext ?? {};
  for (const f of ["hostNetwork", "hostPID", "hostIPC"])
    if (spec[f] === true) bad(f, "must be false or unset (baseline)");
  for (const s of psc.sysctls ?? [])
    if (!SAFE_SYSCTLS.includes(s.name)) bad("securityContext.sysctls", `${s.name} is not a safe sysctl (baseline)`);
  for (const v of spec.volumes ?? []) {
    const kinds = Object.keys(v).filter((k) => k !== "name");
    for (const k of kinds)
      if (!RESTRICTED_VOLUMES.includes(k)) bad(`volumes[${v.name}].${k}`, "volume type not allowed (restricted)");
  }
  const podSeccomp = psc.seccompProfile?.type;
  if (podSeccomp !== undefined && !["RuntimeDefault", "Localhost"].includes(podSeccomp))
    bad("securityContext.seccompProfile.type", `${podSeccomp}: must be RuntimeDefault or Localhost (restricted)`);
  if (psc.runAsNonRoot === false) bad("securityContext.runAsNonRoot", "must not be false (restricted)");
  if (psc.runAsUser === 0) bad("securityContext.runAsUser", "must not be 0 (restricted)");
  const containers = [["containers", spec.containers ?? []], ["initContainers", spec.initContainers ?? []],
    ["ephemeralContainers", spec.ephemeralContainers ?? []]];
  if ((spec.containers ?? []).length === 0) bad("containers", "no containers");
  for (const [list, cs] of containers) {
    for (const c of cs) {
      const at = (f) => `${list}[${c.name}].${f}`;
      const sc = c.securityContext ?? {};
      if (sc.privileged === true) bad(at("securityContext.privileged"), "must be false or unset (baseline)");
      if (sc.procMount !== undefined && sc.procMount !== "Default") bad(at("securityContext.procMount"), "must be Default (baseline)");
      for (const p of c.ports ?? [])
        if (p.hostPort) bad(at("ports.hostPort"), "must be 0 or unset (baseline)");
      if (sc.allowPrivilegeEscalation !== false)
        bad(at("securityContext.allowPrivilegeEscalation"), "must be false (restricted)");
      const nonRoot = sc.runAsNonRoot ?? psc.runAsNonRoot;
      if (nonRoot !== true) bad(at("securityContext.runAsNonRoot"), "must be true, here or in the pod's securityContext (restricted)");
      const uid = sc.runAsUser ?? psc.runAsUser;
      if (sc.runAsUser === 0) bad(at("securityContext.runAsUser"), "must not be 0 (restricted)");
      const seccomp = sc.seccompProfile?.type ?? podSeccomp;
      if (!["RuntimeDefault", "Localhost"].includes(seccomp))
        bad(at("securityContext.seccompProfile.type"), `${seccomp ?? "unset"}: must be RuntimeDefault or Localhost, here or in the pod (restricted)`);
      const drop = sc.capabilities?.drop ?? [];
      if (!drop.includes("ALL")) bad(at("securityContext.capabilities.drop"), "must include ALL (restricted)");
      for (const cap of sc.capabilities?.add ?? []) {
        if (cap !== "NET_BIND_SERVICE") bad(at("securityContext.capabilities.add"), `${cap}: only NET_BIND_SERVICE may be added (restricted)`);
        if (!BASELINE_CAPS.includes(cap)) bad(at("securityContext.capabilities.add"), `${cap}: not in the baseline set`);
      }
      // dataenv's own rules on top of the standard
      if (list === "containers") {
        if (uid !== 10001) bad(at("securityContext.runAsUser"), `${uid ?? "unset"}: dataenv runs as 10001`);
        if (sc.readOnlyRootFilesystem !== true) bad(at("securityContext.readOnlyRootFilesystem"), "must be true (dataenv)");
      }
    }
  }
  if (problems === before) console.log(`ok restricted ${name(o)}`);
}

let seen = 0;
for (const file of files) {
  for (const o of objects(file)) {
    seen++;
    if (mode === "schema") await checkSchema(file, o);
    else checkRestricted(file, o);
  }
}
if (seen === 0) problem(files.join(" "), "no objects");
process.exit(problems ? 1 : 0);
