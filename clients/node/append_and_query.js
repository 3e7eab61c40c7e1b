#!/usr/bin/env node
// A DataPack client in Node.js: streams datapacks in through AppendDataPacks,
// waits until every batch is acknowledged (durable), queries them back with a
// filter and a sort, reads the statistics, and prints one JSON summary on
// stdout. The .proto files are loaded at run time from protos/ (no generated
// code), which is what tests/test_node_client.py proves works against the
// server; docs/clients.md shows the same flow in C++.
//
//   node append_and_query.js --target 127.0.0.1:50051 --store phase_c --task drawer_vase --count 24
//
// Exit status: 0 when every batch was acknowledged as expected (the batch sent
// by --invalid-batch must come back rejected), 1 for a usage error, 2 for a
// failed call, a missing acknowledgement or an unexpected rejection.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { parseArgs } = require('node:util');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const PROTO_ROOT = process.env.DATAPACK_PROTO_ROOT || path.resolve(__dirname, '..', '..', 'protos');

const USAGE = `usage: append_and_query.js [--target HOST:PORT] [--store STORE] [--task TASK]
       [--count N] [--batch-size N] [--prefix ID_PREFIX] [--writer-id ID] [--invalid-batch]
       [--bucket positive|negative] [--min-trust X] [--sort-by FIELD] [--ascending] [--limit N]
       [--ca CA.pem] [--token-file FILE] [--timeout SECONDS]
Target: --target, else $DATAPACK_TARGET, else 127.0.0.1:50051. Token: --token-file, else $DATAPACK_TOKEN.`;

function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      target: { type: 'string' },
      store: { type: 'string', default: 'phase_c' },
      task: { type: 'string', default: 'drawer_vase' },
      count: { type: 'string', default: '24' },
      'batch-size': { type: 'string', default: '8' },
      prefix: { type: 'string' },
      'writer-id': { type: 'string' },
      'invalid-batch': { type: 'boolean', default: false },
      bucket: { type: 'string', default: 'positive' },
      'min-trust': { type: 'string', default: '0.6' },
      'sort-by': { type: 'string', default: 'delta_j' },
      ascending: { type: 'boolean', default: false },
      limit: { type: 'string', default: '10' },
      ca: { type: 'string' },
      'token-file': { type: 'string' },
      timeout: { type: 'string', default: '30' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const count = Number.parseInt(values.count, 10);
  const batchSize = Number.parseInt(values['batch-size'], 10);
  const limit = Number.parseInt(values.limit, 10);
  const minTrust = Number(values['min-trust']);
  const timeout = Number(values.timeout);
  if (!(count >= 1) || !(batchSize >= 1) || !(limit >= 1) || !Number.isFinite(minTrust) || !(timeout > 0)) {
    throw new Error('--count, --batch-size and --limit must be integers >= 1, --min-trust a number, --timeout > 0');
  }
  return {
    help: values.help,
    target: values.target || process.env.DATAPACK_TARGET || '127.0.0.1:50051',
    store: values.store,
    task: values.task,
    count,
    batchSize,
    prefix: values.prefix || `node-${process.pid}-${Date.now()}`,
    // One writer session: the server recognises a batch re-sent under the same
    // writer id and batch sequence and answers it with its first acknowledgement.
    writerId: values['writer-id'] || `node-${process.pid}-${Date.now()}`,
    invalidBatch: values['invalid-batch'],
    bucket: values.bucket,
    minTrust,
    sortBy: values['sort-by'],
    descending: !values.ascending,
    limit,
    ca: values.ca,
    token: values['token-file'] ? fs.readFileSync(values['token-file'], 'utf8').trim()
      : (process.env.DATAPACK_TOKEN || ''),
    timeoutMs: timeout * 1000,
  };
}

function loadService() {
  // keepCase: the field names of the .proto (delta_j, trust_score), as every
  // other client spells them. longs as Number: counts and sequences here stay
  // far below 2^53. enums as their names, so statuses print as
  // APPEND_STATUS_CREATED. defaults false: an unset optional field stays
  // absent instead of reading as 0.
  const definition = protoLoader.loadSync('datapack/v1/datapack_service.proto', {
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: false,
    oneofs: true,
    includeDirs: [PROTO_ROOT],
  });
  return grpc.loadPackageDefinition(definition).datapack.v1.DataPackService;
}

// The pack of index i: deterministic (same prefix, same records), so a re-run
// re-sends identical records, which the server acknowledges as ALREADY_PRESENT.
// created_at is when the episode ran (left out, the server stamps the time of
// the append; the identity of a re-sent record ignores it either way).
function buildPack(prefix, task, i) {
  const deltaJ = Number(((((i * 37) % 100) / 100) - 0.3).toFixed(2)); // distinct for i < 100, some < 0
  const bucket = deltaJ >= 0 ? 'positive' : 'negative'; // the bucket follows the sign of ΔJ
  const engines = ['pybullet', 'isaac', 'ue5'];
  const skills = [0, 1, 2 + (i % 4)];
  const pack = {
    schema_version: '2.0-energy',
    pack_id: `${prefix}-${String(i).padStart(4, '0')}`,
    task_name: task,
    bucket,
    semantic_tags: [`engine:${engines[i % 3]}`],
    condition: {
      task_name: task,
      engine_type: engines[i % 3],
      world_id: `world_${i % 5}`,
      vase_offset: [0.01 * (i % 3), 0.0, 0.0],
      drawer_friction: 0.3 + 0.01 * (i % 7),
      lighting_profile: 'normal',
      occlusion_level: 0.1 * (i % 4),
      objective_vector: [1.0, 1.0, 1.0, 0.5],
      tags_json: JSON.stringify({ client: 'node' }),
    },
    attribution: {
      delta_mpl: 2.0 * deltaJ,
      delta_error: -0.01 * (i % 3),
      delta_ep: 0.5 * deltaJ,
      delta_j: deltaJ,
      trust_score: Number((0.5 + ((i * 3) % 10) * 0.05).toFixed(2)),
      w_econ: 1.0,
      source_type: 'synthetic',
      mvd_score: Number((0.1 * (i % 9)).toFixed(1)),
    },
    agent_profile_json: JSON.stringify({ policy: 'scripted', client: 'node' }),
    skill_trace: skills.map((skillId, k) => ({
      t: 20 * k,
      skill_id: skillId,
      params_json: JSON.stringify({ grasp_force: 0.5 }),
      duration: 20,
    })),
    created_at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
    episode_index: i,
  };
  if (i % 4 === 0) {
    pack.sima_annotation = {
      instruction: 'open the drawer without touching the vase',
      step_narrations: ['approach the handle', 'pull the drawer'],
    };
  }
  if (bucket === 'negative') {
    // A negative pack must say what should have been done (COUNTERFACTUAL_REQUIRED otherwise).
    pack.counterfactual_plan_json = JSON.stringify({ skills: [0, 1, 2, 3, 4, 5], source: 'scripted_teacher' });
    pack.counterfactual_source = 'scripted_teacher';
  }
  return pack;
}

// A batch the server must reject as a whole: a valid pack beside a negative
// pack that lacks its counterfactual plan. Nothing of it may be written.
function buildInvalidBatch(prefix, task) {
  const valid = buildPack(`${prefix}-invalid-batch`, task, 1);
  const invalid = buildPack(`${prefix}-invalid-batch`, task, 2);
  invalid.bucket = 'negative';
  invalid.attribution.delta_j = -0.5;
  delete invalid.counterfactual_plan_json;
  delete invalid.counterfactual_source;
  return [valid, invalid];
}

function deadlineIn(ms) {
  return new Date(Date.now() + ms);
}

function callMetadata(token) {
  const md = new grpc.Metadata();
  if (token) md.add('authorization', `Bearer ${token}`);
  return md;
}

// Writes every request (respecting the stream's flow control), half-closes,
// and resolves with the responses once the server has answered them all.
function appendStreamed(client, requests, options) {
  return new Promise((resolve, reject) => {
    const acks = [];
    const call = client.AppendDataPacks(callMetadata(options.token), { deadline: deadlineIn(options.timeoutMs) });
    let failed = false;
    call.on('data', (resp) => acks.push(resp));
    call.on('error', (err) => { failed = true; reject(err); });
    call.on('end', () => { if (!failed) resolve(acks); });
    (async () => {
      for (const req of requests) {
        if (failed) return;
        if (!call.write(req)) await new Promise((r) => call.once('drain', r));
      }
      call.end();
    })().catch((err) => { failed = true; call.cancel(); reject(err); });
  });
}

function queryPacks(client, request, options) {
  return new Promise((resolve, reject) => {
    const packs = [];
    const call = client.QueryDataPacks(request, callMetadata(options.token), { deadline: deadlineIn(options.timeoutMs) });
    call.on('data', (resp) => packs.push(...(resp.data_packs || [])));
    call.on('error', reject);
    call.on('end', () => resolve(packs));
  });
}

function unary(client, method, request, options) {
  return new Promise((resolve, reject) => {
    client[method](request, callMetadata(options.token), { deadline: deadlineIn(options.timeoutMs) },
      (err, resp) => (err ? reject(err) : resolve(resp)));
  });
}

// The statistics in the shape of the Python client's get_statistics() dict.
function statisticsSummary(s) {
  const out = { total: s.total || 0, positive: s.positive || 0, negative: s.negative || 0 };
  if (s.positive_ratio !== undefined) {
    for (const k of ['positive_ratio', 'delta_j_mean', 'delta_j_std', 'delta_j_min', 'delta_j_max',
      'trust_mean', 'trust_std']) {
      out[k] = s[k];
    }
    out.unique_skills = s.unique_skills || [];
    out.engine_types = Object.fromEntries((s.engine_types || []).map((c) => [c.name, c.count]));
    out.source_types = Object.fromEntries((s.source_types || []).map((c) => [c.name, c.count]));
    out.with_sima = s.with_sima || 0;
    out.with_counterfactual = s.with_counterfactual || 0;
  }
  return out;
}

function rejectionSummary(rejection) {
  return {
    code: rejection.code,
    reason: rejection.reason,
    message: rejection.message,
    violations: (rejection.violations || []).map((v) => ({
      index: v.index || 0, pack_id: v.pack_id || '', field: v.field, reason: v.reason,
    })),
  };
}

async function run(options) {
  const Service = loadService();
  const credentials = options.ca ? grpc.credentials.createSsl(fs.readFileSync(options.ca))
    : grpc.credentials.createInsecure();
  const client = new Service(options.target, credentials);
  try {
    const requests = [];
    const { writerId } = options;
    for (let start = 0; start < options.count; start += options.batchSize) {
      const packs = [];
      for (let i = start; i < Math.min(start + options.batchSize, options.count); i += 1) {
        packs.push(buildPack(options.prefix, options.task, i));
      }
      requests.push({ store: options.store, data_packs: packs, writer_id: writerId, batch_sequence: requests.length + 1 });
    }
    const invalidSequence = options.invalidBatch ? requests.length + 1 : null;
    if (options.invalidBatch) {
      requests.push({ store: options.store, data_packs: buildInvalidBatch(options.prefix, options.task),
        writer_id: writerId, batch_sequence: invalidSequence });
    }

    const acks = await appendStreamed(client, requests, options);

    const counts = { created: 0, already_present: 0, rejected: 0 };
    const problems = [];
    const rejections = [];
    if (acks.length !== requests.length) {
      problems.push(`${requests.length} batches sent, ${acks.length} acknowledged`);
    }
    acks.forEach((ack, k) => {
      const expected = requests[k] ? requests[k].batch_sequence : null;
      if (ack.batch_sequence !== expected) {
        problems.push(`acknowledgement ${k} echoes batch ${ack.batch_sequence}, expected ${expected}`);
      }
      for (const r of ack.results || []) {
        if (r.status === 'APPEND_STATUS_CREATED') counts.created += 1;
        else if (r.status === 'APPEND_STATUS_ALREADY_PRESENT') counts.already_present += 1;
        else if (r.status === 'APPEND_STATUS_REJECTED') counts.rejected += 1;
      }
      if (ack.rejection) {
        rejections.push({ batch_sequence: ack.batch_sequence, ...rejectionSummary(ack.rejection) });
        if (ack.batch_sequence !== invalidSequence) problems.push(`batch ${ack.batch_sequence} was rejected`);
      } else if (ack.batch_sequence === invalidSequence) {
        problems.push(`the invalid batch ${invalidSequence} was accepted`);
      }
    });

    const filter = { bucket: options.bucket, min_trust: options.minTrust };
    const queryRequest = {
      store: options.store,
      task_name: options.task,
      filter,
      sort_by: options.sortBy,
      sort_descending: options.descending,
      limit: options.limit,
    };
    const packs = await queryPacks(client, queryRequest, options);
    const all = await unary(client, 'GetStatistics', { store: options.store, task_name: options.task }, options);
    const slice = await unary(client, 'GetStatistics', { store: options.store, task_name: options.task, filter },
      options);

    const summary = {
      target: options.target,
      store: options.store,
      task_name: options.task,
      prefix: options.prefix,
      writer_id: options.writerId,
      batches_sent: requests.length,
      acks: acks.map((a) => ({
        batch_sequence: a.batch_sequence,
        statuses: (a.results || []).map((r) => r.status),
        rejected: Boolean(a.rejection),
      })),
      append: counts,
      rejections,
      query: {
        filter,
        sort_by: options.sortBy,
        sort_descending: options.descending,
        limit: options.limit,
        packs: packs.map((p) => ({
          pack_id: p.pack_id,
          bucket: p.bucket,
          delta_j: p.attribution?.delta_j ?? null,
          trust_score: p.attribution?.trust_score ?? null,
          engine_type: p.condition?.engine_type ?? null,
          revision: p.revision,
        })),
      },
      statistics: { all: statisticsSummary(all), slice: statisticsSummary(slice) },
      problems,
    };
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    return problems.length === 0 ? 0 : 2;
  } finally {
    client.close();
  }
}

async function main() {
  let options;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${err.message}\n${USAGE}\n`);
    return 1;
  }
  if (options.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  try {
    return await run(options);
  } catch (err) {
    // A failed call: its gRPC status name and message, for scripts and people alike.
    const code = typeof err.code === 'number' ? grpc.status[err.code] : undefined;
    process.stderr.write(`${JSON.stringify({ error: code || 'ERROR', message: err.details || err.message })}\n`);
    return 2;
  }
}

main().then((status) => { process.exitCode = status; });
