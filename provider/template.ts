import type { dynamic } from "@pulumi/pulumi";
import { templateFields, templateSpecSchema, SECRET_MASK } from "../server/resources/schemas";
import { adminApi, STATE_KEYS } from "./admin-api";
import { changedKeys, liveInputs, pick, validate } from "./inputs";

/** Every field of a template as the admin API takes it; the Template resource's inputs are these. */
export const TEMPLATE_KEYS = Object.keys(templateFields.shape);

interface TemplateView extends Record<string, unknown> {
  id: string;
  env: Record<string, string>;
  secretEnvKeys: string[];
}

/** Env as read back: masked secret values are taken from state, since the API never returns them. */
export function unmaskEnv(env: Record<string, string>, state: Record<string, unknown>): Record<string, string> {
  const known = (state.env ?? {}) as Record<string, string>;
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === SECRET_MASK && k in known ? known[k]! : v]));
}

/** Template: check with the admin API's schema, update in place on any change (never replaced), refresh by GET. */
export const templateProvider: dynamic.ResourceProvider = {
  async check(_olds, news) {
    return { inputs: news, failures: validate(templateSpecSchema, pick(news, TEMPLATE_KEYS)) };
  },

  async diff(_id, olds, news) {
    const changed = changedKeys(olds, news, TEMPLATE_KEYS);
    return { changes: changed.length > 0, replaces: [], deleteBeforeReplace: false };
  },

  async create(inputs) {
    const created = await adminApi(inputs).create<TemplateView>("/templates", pick(inputs, TEMPLATE_KEYS));
    return { id: created.id, outs: inputs };
  },

  async read(id, props) {
    const view = await adminApi(props).get<TemplateView>(`/templates/${id}`);
    if (!view) return { id: "", props: {} };
    const defaults = templateSpecSchema.parse({ name: "x", imageName: "x" }) as Record<string, unknown>;
    const current = liveInputs({ ...view, env: unmaskEnv(view.env, props) }, props, TEMPLATE_KEYS, defaults);
    const live = { ...pick(props, STATE_KEYS), ...current };
    return { id, props: live, inputs: live };
  },

  async update(id, _olds, news) {
    await adminApi(news).replace(`/templates/${id}`, pick(news, TEMPLATE_KEYS));
    return { outs: news };
  },

  async delete(id, props) {
    await adminApi(props).remove(`/templates/${id}`);
  },
};
