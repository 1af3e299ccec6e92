import crypto from "node:crypto";
import { notShared, readAfterChanges, type SharedStore } from "../cluster/signals";
import { ConflictError, InvalidFieldError, NotFoundError } from "../errors";
import type { EndpointSpec, NetworkVolumeSpec, TemplateSpec } from "../resources/schemas";

/** The channel control planes sharing a database say "resources changed" on. */
const RESOURCE_SIGNALS = "berth_resources";

export interface StoredResource<S> {
  id: string;
  spec: S;
  /** ms since the epoch */
  createdAt: number;
  updatedAt: number;
}
export type TemplateRecord = StoredResource<TemplateSpec>;
export type NetworkVolumeRecord = StoredResource<NetworkVolumeSpec>;
export interface EndpointRecord extends StoredResource<EndpointSpec> {
  revision: number;
}
export interface EndpointRevision {
  endpointId: string;
  revision: number;
  /** The endpoint and its template as they were when the revision was made: what its workers run. */
  spec: EndpointSpec;
  templateSpec: TemplateSpec;
  createdAt: number;
}

/**
 * Which fields change what a worker runs or where it may run. A change to any of them gives the endpoint a
 * new revision, and the runtime replaces the old revision's workers (a rolling update). The others are read
 * live from the endpoint by the control plane and take effect without replacing a worker: its name, the
 * scaling numbers (workersMin/Max, idleTimeout, scalerType/Value: scaling is not a rollout), the execution
 * timeout (enforced by the control plane, not by the worker), flashboot (how stopped workers are kept), and
 * which variables are marked secret (the values workers see do not change).
 * Typed as a Record over every spec key so that a new field cannot be added without deciding.
 */
const ENDPOINT_FIELD_ROLLS_OUT: Record<keyof EndpointSpec, boolean> = {
  name: false,
  templateId: true,
  gpuTypeIds: true,
  gpuCount: true,
  workersMin: false,
  workersMax: false,
  idleTimeout: false,
  scalerType: false,
  scalerValue: false,
  executionTimeoutMs: false,
  flashboot: false,
  networkVolumeId: true,
  dataCenterIds: true,
  rateLimits: false,
  env: true,
  secretEnvKeys: false,
};

/** A template's name and readme are for people; everything else is part of the worker's container. */
const TEMPLATE_FIELD_ROLLS_OUT: Record<keyof TemplateSpec, boolean> = {
  name: false,
  readme: false,
  imageName: true,
  startCommand: true,
  env: true,
  secretEnvKeys: false,
  containerDiskInGb: true,
  volumeMountPath: true,
  ports: true,
  memoryInGb: true,
};

const ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";
const ID_LENGTH = 12;

/** RunPod-like ids: 12 lowercase letters and digits, URL-safe and short enough to read out. */
function newResourceId(): string {
  return Array.from({ length: ID_LENGTH }, () => ID_ALPHABET[crypto.randomInt(ID_ALPHABET.length)]).join("");
}

/** A resource as stored, the same in SQLite and PostgreSQL: its validated spec as JSON text. */
export interface ResourceRow {
  id: string;
  name: string;
  spec: string;
  created_at: number;
  updated_at: number;
}

export interface EndpointRow extends ResourceRow {
  revision: number;
}

export interface RevisionRow {
  endpoint_id: string;
  revision: number;
  spec: string;
  template_spec: string;
  created_at: number;
}

export type ResourceTable = "templates" | "network_volumes" | "endpoints";

/** One write to the resource tables; the writes of one admin request are applied together, whole or not at all. */
export type ResourceChange =
  | { op: "put"; table: "templates" | "network_volumes"; row: ResourceRow }
  | { op: "put"; table: "endpoints"; row: EndpointRow }
  | { op: "delete"; table: ResourceTable; id: string }
  | { op: "addRevision"; row: RevisionRow }
  | { op: "reseal"; cell: SpecCell; from: string; to: string };

/**
 * One spec column of one row. "reseal" replaces its text only while it still holds `from`, so that encrypting the
 * secrets of rows written before they were encrypted at rest (store/sealed-resource-rows.ts) never undoes a write
 * another control plane made meanwhile.
 */
export type SpecCell =
  | { table: "templates" | "endpoints"; id: string; column: "spec" }
  | { table: "endpoint_revisions"; endpointId: string; revision: number; column: "spec" | "template_spec" };

export interface ResourceSnapshot {
  templates: ResourceRow[];
  volumes: ResourceRow[];
  endpoints: EndpointRow[];
  revisions: RevisionRow[];
}

/** Where the resources are kept: SQLite's tables or PostgreSQL's (store/postgres/resource-rows.ts). */
export interface ResourceRows {
  load(): Promise<ResourceSnapshot>;
  /**
   * Starts writing the changes in one transaction at once, in call order; resolves once they are durable. (SQLite
   * writes them into the current group transaction synchronously, with the turn's other writes.)
   */
  apply(changes: ResourceChange[]): Promise<void>;
}

/**
 * Templates, endpoints (with their revisions) and network volumes. Specs arrive already validated by the schemas
 * in server/resources/schemas.ts; this store enforces the rules that need stored state (references exist, volumes
 * only grow, nothing in use is deleted) and decides revisions.
 *
 * The resources are few and read on every request (does this endpoint exist, what does its revision run), so
 * they live in memory, loaded at open and written through to the database: each write checks and changes the
 * in-memory copy in one synchronous call, so no other request interleaves, and hands its rows to the database.
 * Callers replying to an HTTP write await `durable()` first; a write the database refuses reloads the copy.
 */
export class ResourceStore {
  private templates = new Map<string, TemplateRecord>();
  private volumes = new Map<string, NetworkVolumeRecord>();
  private endpoints = new Map<string, EndpointRecord>();
  private revisionsOf = new Map<string, EndpointRevision[]>();
  private written: Promise<void> = Promise.resolve();
  /** Writes made here so far: a reload that raced one is read again. */
  private generation = 0;
  private reloading: Promise<void> | undefined;
  private reloadAgain = false;

  private constructor(
    private readonly rows: ResourceRows,
    private readonly shared: SharedStore,
  ) {}

  /**
   * Loads the resources. With `shared`, a write by another control plane sharing the database reloads them here
   * (they are few: a reload reads every row).
   */
  static async open(rows: ResourceRows, shared: SharedStore = notShared): Promise<ResourceStore> {
    const store = new ResourceStore(rows, shared);
    store.replaceAll(await rows.load());
    await shared.signals.listen(RESOURCE_SIGNALS, () => void store.reload(), () => void store.reload());
    return store;
  }

  /** Resolves once every write so far is on disk: await it before answering an HTTP write. */
  durable(): Promise<void> {
    return this.written;
  }

  /**
   * Reads every row again, starting now, so that what another control plane wrote before this call is seen here
   * even if its signal has not arrived: a request through a load balancer may follow, on this control plane, a
   * write that landed on another a moment ago. Nothing to do on a store nobody else writes.
   */
  async catchUp(): Promise<void> {
    if (!this.shared.signals.shared) return;
    if (this.reloading) {
      this.reloadAgain = true;
      await this.reloading;
    }
    await (this.reloading ?? this.reload());
  }

  // --- templates ------------------------------------------------------------------------------------------

  getTemplate(id: string): TemplateRecord | undefined {
    return this.templates.get(id);
  }

  listTemplates(): TemplateRecord[] {
    return ordered(this.templates.values());
  }

  createTemplate(spec: TemplateSpec): TemplateRecord {
    const now = Date.now();
    const record = { id: newResourceId(), spec, createdAt: now, updatedAt: now };
    this.templates.set(record.id, record);
    this.write([{ op: "put", table: "templates", row: resourceRow(record) }]);
    return record;
  }

  /**
   * Replaces a template's spec. When a field that workers run changed, every endpoint using the template
   * gets a new revision; those endpoints are returned as `rolledOut` (empty otherwise).
   */
  updateTemplate(id: string, spec: TemplateSpec): { template: TemplateRecord; rolledOut: EndpointRecord[] } {
    const current = this.requireTemplate(id);
    const template = { ...current, spec, updatedAt: Date.now() };
    const rollsOut = rollsOutChange(current.spec, spec, TEMPLATE_FIELD_ROLLS_OUT);
    this.templates.set(id, template);
    const changes: ResourceChange[] = [{ op: "put", table: "templates", row: resourceRow(template) }];
    const rolledOut = rollsOut
      ? this.endpointsUsingTemplate(id).map((endpoint) => this.saveEndpoint(endpoint, endpoint.spec, spec, true, template.updatedAt, changes))
      : [];
    this.write(changes);
    return { template, rolledOut };
  }

  /** Refused (a conflict) while an endpoint uses the template, naming those endpoints. */
  deleteTemplate(id: string): void {
    this.requireTemplate(id);
    const users = this.endpointsUsingTemplate(id);
    if (users.length > 0) {
      throw new ConflictError("in_use", `template ${id} is used by endpoint(s) ${describe(users)}: change or delete them first`, {
        endpoints: users.map((e) => e.id),
      });
    }
    this.templates.delete(id);
    this.write([{ op: "delete", table: "templates", id }]);
  }

  endpointsUsingTemplate(templateId: string): EndpointRecord[] {
    return this.listEndpoints().filter((e) => e.spec.templateId === templateId);
  }

  // --- network volumes ------------------------------------------------------------------------------------

  getVolume(id: string): NetworkVolumeRecord | undefined {
    return this.volumes.get(id);
  }

  listVolumes(): NetworkVolumeRecord[] {
    return ordered(this.volumes.values());
  }

  createVolume(spec: NetworkVolumeSpec): NetworkVolumeRecord {
    const now = Date.now();
    const record = { id: newResourceId(), spec, createdAt: now, updatedAt: now };
    this.volumes.set(record.id, record);
    this.write([{ op: "put", table: "network_volumes", row: resourceRow(record) }]);
    return record;
  }

  /** A volume may grow but never shrink, and never move to another data centre (RunPod's rules). */
  updateVolume(id: string, spec: NetworkVolumeSpec): NetworkVolumeRecord {
    const current = this.requireVolume(id);
    if (spec.size < current.spec.size) {
      throw new InvalidFieldError("size", `a network volume can only grow: ${spec.size} GB is less than its current ${current.spec.size} GB`);
    }
    if (spec.dataCenterId !== current.spec.dataCenterId) {
      throw new InvalidFieldError(
        "dataCenterId",
        `is immutable: the volume lives in ${current.spec.dataCenterId}; create a new volume to use ${spec.dataCenterId}`,
      );
    }
    const record = { ...current, spec, updatedAt: Date.now() };
    this.volumes.set(id, record);
    this.write([{ op: "put", table: "network_volumes", row: resourceRow(record) }]);
    return record;
  }

  /** Refused (a conflict) while an endpoint mounts the volume, naming those endpoints. */
  deleteVolume(id: string): void {
    this.requireVolume(id);
    const users = this.endpointsUsingVolume(id);
    if (users.length > 0) {
      throw new ConflictError("in_use", `network volume ${id} is attached to endpoint(s) ${describe(users)}: detach or delete them first`, {
        endpoints: users.map((e) => e.id),
      });
    }
    this.volumes.delete(id);
    this.write([{ op: "delete", table: "network_volumes", id }]);
  }

  endpointsUsingVolume(volumeId: string): EndpointRecord[] {
    return this.listEndpoints().filter((e) => e.spec.networkVolumeId === volumeId);
  }

  // --- endpoints ------------------------------------------------------------------------------------------

  endpointExists(id: string): boolean {
    return this.endpoints.has(id);
  }

  getEndpoint(id: string): EndpointRecord | undefined {
    return this.endpoints.get(id);
  }

  listEndpoints(): EndpointRecord[] {
    return ordered(this.endpoints.values());
  }

  /** Creates the endpoint at revision 1. Its template and network volume must exist (an invalid field otherwise). */
  createEndpoint(spec: EndpointSpec): EndpointRecord {
    const template = this.checkReferences(spec);
    const now = Date.now();
    const endpoint: EndpointRecord = { id: newResourceId(), spec, revision: 1, createdAt: now, updatedAt: now };
    this.endpoints.set(endpoint.id, endpoint);
    const changes: ResourceChange[] = [{ op: "put", table: "endpoints", row: endpointRow(endpoint) }];
    this.recordRevision(endpoint, template.spec, now, changes);
    this.write(changes);
    return endpoint;
  }

  /** Replaces the endpoint's spec; the revision increments when a field in ENDPOINT_FIELD_ROLLS_OUT changed. */
  updateEndpoint(id: string, spec: EndpointSpec): EndpointRecord {
    const current = this.requireEndpoint(id);
    const template = this.checkReferences(spec);
    const rollsOut = rollsOutChange(current.spec, spec, ENDPOINT_FIELD_ROLLS_OUT);
    const changes: ResourceChange[] = [];
    const endpoint = this.saveEndpoint(current, spec, template.spec, rollsOut, Date.now(), changes);
    this.write(changes);
    return endpoint;
  }

  /** Deletes the endpoint and its revisions. */
  deleteEndpoint(id: string): void {
    this.requireEndpoint(id);
    this.endpoints.delete(id);
    this.revisionsOf.delete(id);
    this.write([{ op: "delete", table: "endpoints", id }]);
  }

  /** Every revision of an endpoint, oldest first; undefined when the endpoint does not exist. */
  revisions(endpointId: string): EndpointRevision[] | undefined {
    if (!this.endpointExists(endpointId)) return undefined;
    return [...(this.revisionsOf.get(endpointId) ?? [])];
  }

  /** What the endpoint's workers should be running now. */
  currentRevision(endpointId: string): EndpointRevision | undefined {
    const endpoint = this.getEndpoint(endpointId);
    return endpoint && this.revisionsOf.get(endpointId)?.find((r) => r.revision === endpoint.revision);
  }

  // --- internals ------------------------------------------------------------------------------------------

  /**
   * Hands the changes to the database now, after the ones before them. A write the database refuses leaves the
   * in-memory copy ahead of it, so the copy is reloaded from the database, and whoever awaits durable() is told.
   */
  private write(changes: ResourceChange[]): void {
    this.generation++;
    const applied = this.rows.apply(changes).then(() => this.shared.signals.send(RESOURCE_SIGNALS, {}));
    // An earlier refusal was told to whoever awaited it then; it does not fail the writes after it.
    this.written = Promise.all([this.written.catch(() => undefined), applied]).then(
      () => undefined,
      async (err: Error) => {
        this.replaceAll(await this.rows.load());
        throw err;
      },
    );
  }

  /** One reload at a time; signals that arrive during one make exactly one more. */
  private reload(): Promise<void> {
    if (this.reloading) {
      this.reloadAgain = true;
      return this.reloading;
    }
    this.reloading = this.reloadOnce()
      .catch((err: Error) => this.shared.failed(err))
      .finally(() => {
        this.reloading = undefined;
        if (this.reloadAgain) {
          this.reloadAgain = false;
          void this.reload();
        }
      });
    return this.reloading;
  }

  /** Reads every row once this store's own writes are in, and again if one was made while reading. */
  private async reloadOnce(): Promise<void> {
    const read = async () => {
      await this.written.catch(() => undefined);
      return this.rows.load();
    };
    this.replaceAll(await readAfterChanges(read, () => this.generation));
  }

  private replaceAll(snapshot: ResourceSnapshot): void {
    this.templates = new Map(snapshot.templates.map((row) => [row.id, toRecord<TemplateSpec>(row)]));
    this.volumes = new Map(snapshot.volumes.map((row) => [row.id, toRecord<NetworkVolumeSpec>(row)]));
    this.endpoints = new Map(snapshot.endpoints.map((row) => [row.id, toEndpointRecord(row)]));
    this.revisionsOf = new Map();
    for (const revision of snapshot.revisions.map(toRevision).sort((a, b) => a.revision - b.revision)) {
      this.revisionsOf.set(revision.endpointId, [...(this.revisionsOf.get(revision.endpointId) ?? []), revision]);
    }
  }

  /** The endpoint's template must exist; so must its volume, in one of its data centres. Returns the template. */
  private checkReferences(spec: EndpointSpec): TemplateRecord {
    const template = this.getTemplate(spec.templateId);
    if (!template) throw new InvalidFieldError("templateId", `template ${spec.templateId} does not exist`);
    if (spec.networkVolumeId !== undefined) {
      const volume = this.getVolume(spec.networkVolumeId);
      if (!volume) throw new InvalidFieldError("networkVolumeId", `network volume ${spec.networkVolumeId} does not exist`);
      if (spec.dataCenterIds && !spec.dataCenterIds.includes(volume.spec.dataCenterId)) {
        throw new InvalidFieldError(
          "dataCenterIds",
          `must include ${volume.spec.dataCenterId}, the data centre of network volume ${volume.id}: workers can only mount it there`,
        );
      }
    }
    return template;
  }

  /** The endpoint's new spec; with `newRevision`, the revision bumped and what it runs recorded. */
  private saveEndpoint(
    current: EndpointRecord,
    spec: EndpointSpec,
    templateSpec: TemplateSpec,
    newRevision: boolean,
    now: number,
    changes: ResourceChange[],
  ): EndpointRecord {
    const endpoint: EndpointRecord = { ...current, spec, revision: current.revision + (newRevision ? 1 : 0), updatedAt: now };
    this.endpoints.set(endpoint.id, endpoint);
    changes.push({ op: "put", table: "endpoints", row: endpointRow(endpoint) });
    if (newRevision) this.recordRevision(endpoint, templateSpec, now, changes);
    return endpoint;
  }

  private recordRevision(endpoint: EndpointRecord, templateSpec: TemplateSpec, now: number, changes: ResourceChange[]): void {
    const revision: EndpointRevision = { endpointId: endpoint.id, revision: endpoint.revision, spec: endpoint.spec, templateSpec, createdAt: now };
    this.revisionsOf.set(endpoint.id, [...(this.revisionsOf.get(endpoint.id) ?? []), revision]);
    changes.push({
      op: "addRevision",
      row: {
        endpoint_id: endpoint.id,
        revision: endpoint.revision,
        spec: JSON.stringify(endpoint.spec),
        template_spec: JSON.stringify(templateSpec),
        created_at: now,
      },
    });
  }

  private requireTemplate(id: string): TemplateRecord {
    const template = this.getTemplate(id);
    if (!template) throw new NotFoundError("not_found", `template ${id} does not exist`);
    return template;
  }

  private requireVolume(id: string): NetworkVolumeRecord {
    const volume = this.getVolume(id);
    if (!volume) throw new NotFoundError("not_found", `network volume ${id} does not exist`);
    return volume;
  }

  private requireEndpoint(id: string): EndpointRecord {
    const endpoint = this.getEndpoint(id);
    if (!endpoint) throw new NotFoundError("not_found", `endpoint ${id} does not exist`);
    return endpoint;
  }
}

/** Oldest first, as the admin API lists them (ties by id). */
function ordered<R extends { id: string; createdAt: number }>(records: Iterable<R>): R[] {
  return [...records].sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Whether a field marked in `rollsOut` differs, compared as canonical JSON (the order of env keys does not count). */
function rollsOutChange<S extends object>(before: S, after: S, rollsOut: Record<keyof S, boolean>): boolean {
  return (Object.keys(rollsOut) as Array<keyof S>).some(
    (key) => rollsOut[key] && canonicalJson(before[key]) !== canonicalJson(after[key]),
  );
}

function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  ) ?? "undefined";
}

function describe(endpoints: EndpointRecord[]): string {
  return endpoints.map((e) => `${e.id} (${e.spec.name})`).join(", ");
}

function resourceRow<S extends { name: string }>(record: StoredResource<S>): ResourceRow {
  return { id: record.id, name: record.spec.name, spec: JSON.stringify(record.spec), created_at: record.createdAt, updated_at: record.updatedAt };
}

function endpointRow(record: EndpointRecord): EndpointRow {
  return { ...resourceRow(record), revision: record.revision };
}

function toRecord<S>(row: ResourceRow): StoredResource<S> {
  return { id: row.id, spec: JSON.parse(row.spec) as S, createdAt: row.created_at, updatedAt: row.updated_at };
}

function toEndpointRecord(row: EndpointRow): EndpointRecord {
  return { ...toRecord<EndpointSpec>(row), revision: row.revision };
}

function toRevision(row: RevisionRow): EndpointRevision {
  return {
    endpointId: row.endpoint_id,
    revision: row.revision,
    spec: JSON.parse(row.spec) as EndpointSpec,
    templateSpec: JSON.parse(row.template_spec) as TemplateSpec,
    createdAt: row.created_at,
  };
}
