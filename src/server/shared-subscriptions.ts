import {
  Kind,
  execute,
  getNamedType,
  isLeafType,
  isObjectType,
  type GraphQLNamedType,
  type SelectionNode,
  getArgumentValues,
  getOperationAST,
  getVariableValues,
  print,
  subscribe,
  type ExecutionArgs,
  type ExecutionResult,
  type FieldNode,
} from 'graphql';
import { asGraphQLError } from '../errors.js';
import { LatestValueIterator } from '../platform/latest.js';

/**
 * A subscription field whose events are the same for every subscriber (public data), so
 * they can be executed once and sent to all.
 */
export interface SharedField {
  /**
   * The types whose fields are the same for every viewer (the snapshot's own). A document
   * that selects anything else below the root (`Availability.night { tables }`, say) is
   * shared only among subscribers who are the same viewer, and executed as that viewer.
   */
  publicTypes: ReadonlySet<string>;
  /** The topic the arguments name, e.g. the night id. */
  topic(args: Record<string, unknown>): string;
  /** Throws (e.g. NOT_FOUND) when a subscriber may not join the topic; becomes the result's error. */
  admit(topic: string): Promise<void>;
  /** Starts delivering the topic's root values to `push`; resolves to a stop function. */
  listen(topic: string, push: (value: unknown) => void): Promise<() => void>;
  /** Asks for the topic's latest value again (a subscriber joined a running group). */
  refresh(topic: string): void;
}

interface Group {
  subscribers: Set<LatestValueIterator<ExecutionResult>>;
  last: ExecutionResult | undefined;
  /** Events are numbered; a result that resolves after a later one's is dropped. */
  sent: number;
  received: number;
  stop: Promise<() => void>;
}

const MARKER = '"@@nightgraph-shared-payload@@"';

/** A message to send: as it is, or in two parts of one message (its head, then shared bytes that end it). */
export type OutgoingMessage = string | [head: string, shared: Buffer];

/**
 * Executes shared subscriptions once per event per (field, topic, document, variables)
 * and serializes each result once: every subscriber of a group receives the same result
 * object, which `onNext` passes through untouched and `replacer` turns into a marker that
 * `substitute` swaps for the pre-serialized JSON. graphql-ws on its own would execute and
 * stringify the event once per subscriber. Slow subscribers are conflated to the latest
 * result. Other subscriptions run through graphql-js's `subscribe` as usual.
 */
export function createSharedSubscriptions(
  fields: Record<string, SharedField>,
  /** A fresh context for each event: anonymous for public documents, else as the subscriber whose context is given. */
  contextValue: (subscriber?: unknown) => unknown,
  /** Who a subscriber's context is, as far as what they may see goes (e.g. the token's subject). */
  viewerKey: (subscriber: unknown) => string,
  formatResult: (result: ExecutionResult) => ExecutionResult,
) {
  const groups = new Map<string, Group>();
  const printed = new WeakMap<object, string>();
  /** Documents are parsed once per query text upstream, so printing once per document object suffices. */
  const textOf = (document: ExecutionArgs['document']) => {
    let text = printed.get(document);
    if (text === undefined) printed.set(document, (text = print(document)));
    return text;
  };
  /**
   * Each shared result's JSON followed by the `}` that closes the message around it (the
   * payload is a message's last key), encoded once: every socket is sent these same bytes.
   */
  const serialized = new WeakMap<object, Buffer>();
  let pending: Buffer | undefined;

  function share(result: ExecutionResult): ExecutionResult {
    const formatted = formatResult(result);
    serialized.set(formatted, Buffer.from(`${JSON.stringify(formatted)}}`));
    return formatted;
  }

  async function join(key: string, args: ExecutionArgs, field: SharedField, fieldName: string, topic: string, subscriber: unknown) {
    let group = groups.get(key);
    if (group) {
      // The group's last result may predate a change whose announcement was lost.
      field.refresh(topic);
    } else {
      const created: Group = { subscribers: new Set(), last: undefined, sent: 0, received: 0, stop: Promise.resolve(() => {}) };
      created.stop = field.listen(topic, (value) => {
        const sequence = (created.received += 1);
        const executed = execute({ ...args, rootValue: { [fieldName]: value }, contextValue: contextValue(subscriber) });
        void Promise.resolve(executed).then((result) => {
          if (sequence < created.sent) return;
          created.sent = sequence;
          created.last = share(result);
          for (const subscriber of created.subscribers) subscriber.push(created.last);
        });
      });
      groups.set(key, created);
      group = created;
      try {
        await created.stop;
      } catch (error) {
        if (groups.get(key) === created) groups.delete(key);
        return { errors: [asGraphQLError(error)] };
      }
    }
    const joined = group;
    const iterator = new LatestValueIterator<ExecutionResult>(() => {
      joined.subscribers.delete(iterator);
      if (joined.subscribers.size === 0 && groups.get(key) === joined) {
        groups.delete(key);
        void joined.stop.then((stop) => stop());
      }
    });
    joined.subscribers.add(iterator);
    if (joined.last) iterator.push(joined.last);
    return iterator;
  }

  return {
    /** graphql-ws's `subscribe` option. */
    async subscribe(args: ExecutionArgs) {
      const operation = getOperationAST(args.document, args.operationName);
      const selection = operation?.selectionSet.selections[0];
      const fieldName = selection?.kind === 'Field' ? selection.name.value : undefined;
      const field = fieldName ? fields[fieldName] : undefined;
      const fieldDef = fieldName ? args.schema.getSubscriptionType()?.getFields()[fieldName] : undefined;
      if (!operation || !field || !fieldDef || operation.selectionSet.selections.length !== 1) return subscribe(args);
      const variables = getVariableValues(args.schema, operation.variableDefinitions ?? [], args.variableValues ?? {});
      if (variables.errors) return { errors: variables.errors };
      const fieldArgs = getArgumentValues(fieldDef, selection as FieldNode, variables.coerced);
      const topic = field.topic(fieldArgs);
      try {
        await field.admit(topic);
      } catch (error) {
        // One refused or failed operation; the connection and its other operations go on.
        return { errors: [asGraphQLError(error)] };
      }
      const isPublic = selectsOnly(selection as FieldNode, field.publicTypes, args);
      const subscriber = isPublic ? undefined : args.contextValue;
      const who = isPublic ? '' : viewerKey(args.contextValue);
      const key = `${fieldName}\u0000${topic}\u0000${who}\u0000${args.operationName ?? ''}\u0000${JSON.stringify(variables.coerced)}\u0000${textOf(args.document)}`;
      return join(key, { ...args, variableValues: variables.coerced }, field, fieldName!, topic, subscriber);
    },
    /** A shared result's JSON and the `}` after it, the same bytes for every subscriber; undefined for any other result. */
    bytesOf(result: ExecutionResult): Buffer | undefined {
      return serialized.get(result);
    },
    /** graphql-ws's `onNext`: keeps a shared result's identity so `replacer` can spot it. */
    onNext(result: ExecutionResult): ExecutionResult | undefined {
      return serialized.has(result) ? result : undefined;
    },
    /** graphql-ws's `jsonMessageReplacer`. */
    replacer(this: unknown, key: string, value: unknown): unknown {
      if (key === 'payload' && typeof value === 'object' && value !== null) {
        const json = serialized.get(value);
        if (json !== undefined) {
          pending = json;
          return MARKER.slice(1, -1);
        }
      }
      return value;
    },
    /**
     * Splits a message at the marker: the socket sends what comes before it, then the
     * shared JSON with the message's closing brace (the same buffer for every subscriber,
     * encoded once per event), as one message. graphql-ws stringifies a message and hands
     * it to the socket's `send` in one synchronous step, and the adapter calls this first
     * thing in `send`, so `pending` is this message's payload. The payload is the
     * message's last key, so the marker is the one just before the final `}` (a client
     * could choose the marker as its operation id).
     */
    substitute(data: string): OutgoingMessage {
      if (pending === undefined) return data;
      const shared = pending;
      pending = undefined;
      if (data.endsWith(`${MARKER}}`)) return [data.slice(0, data.length - MARKER.length - 1), shared];
      // Not a message of graphql-ws's usual shape: the JSON spliced in as text.
      const index = data.lastIndexOf(MARKER);
      return index === -1 ? data : data.slice(0, index) + shared.subarray(0, -1).toString() + data.slice(index + MARKER.length);
    },
  };
}

export type SharedSubscriptions = ReturnType<typeof createSharedSubscriptions>;

/**
 * Whether everything selected below `root` is a field of one of `types` (fragments
 * followed): then the answer is the same for every viewer.
 */
function selectsOnly(root: FieldNode, types: ReadonlySet<string>, args: ExecutionArgs): boolean {
  const fragments = new Map(args.document.definitions.flatMap((d) => (d.kind === Kind.FRAGMENT_DEFINITION ? [[d.name.value, d] as const] : [])));
  const within = (type: GraphQLNamedType, selections: readonly SelectionNode[] | undefined): boolean =>
    (selections ?? []).every((selection) => {
      if (selection.kind === Kind.INLINE_FRAGMENT) return within(type, selection.selectionSet.selections);
      if (selection.kind === Kind.FRAGMENT_SPREAD) return within(type, fragments.get(selection.name.value)?.selectionSet.selections);
      if (selection.name.value === '__typename') return true;
      if (!isObjectType(type) || !types.has(type.name)) return false;
      const child = type.getFields()[selection.name.value];
      if (!child) return false;
      const named = getNamedType(child.type);
      return isLeafType(named) || within(named, selection.selectionSet?.selections);
    });
  const rootType = getNamedType(args.schema.getSubscriptionType()!.getFields()[root.name.value]!.type);
  return within(rootType, root.selectionSet?.selections);
}
