#!/usr/bin/env node
// client.js — a real instrumented application: the `openai` SDK, instrumented with an
// OpenTelemetry GenAI instrumentation from npm, exporting with the official OTLP/HTTP
// exporter (JSON or protobuf) to `airi otel receive`.
//
//   node client.js --instr traceloop|openinference --exporter json|proto
//                  --endpoint http://127.0.0.1:PORT --upstream http://127.0.0.1:PORT
//                  --tag TAG [--no-content] [--gzip]
//
// The model calls go to the test upstream (tests/proxy/fake_upstream.js). Three things
// happen, each with TAG in the user text so that runs of different clients differ:
//   1. a plain chat call: system + user message, temperature 0.3, seed 7, max_tokens 50;
//   2. an agent run in its own trace: an agent span around a chat call that asks for the
//      get_weather tool, a tool span executing it, and a second chat call with the result;
//   3. an embeddings call (OpenInference only; the Traceloop instrumentation has none).
// Prints one JSON line: {tag, plain_trace, agent_trace} (hex trace ids) once the exporter
// has delivered everything (provider.shutdown() resolves only after the export).
'use strict';

const path = require('node:path');
const args = process.argv.slice(2);
function opt(name, def) {
  const i = args.indexOf('--' + name);
  if (i < 0) return def;
  return args[i + 1];
}
const flag = (name) => args.includes('--' + name);

const instr = opt('instr', 'traceloop');
const exporterKind = opt('exporter', 'json');
const endpoint = opt('endpoint');
const upstream = opt('upstream');
const tag = opt('tag', 'T');
const content = !flag('no-content');

const api = require('@opentelemetry/api');
const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');
const { BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const exporterModule =
  exporterKind === 'proto'
    ? require('@opentelemetry/exporter-trace-otlp-proto')
    : require('@opentelemetry/exporter-trace-otlp-http');

const exporter = new exporterModule.OTLPTraceExporter({
  url: endpoint + '/v1/traces',
  // a credential for the OTLP endpoint: it must never reach the store
  headers: { Authorization: 'Bearer otel-secret-TEST' },
  compression: flag('gzip') ? 'gzip' : 'none',
});
const provider = new NodeTracerProvider({
  spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: 200 })],
});
provider.register();
const tracer = provider.getTracer('airi-otel-test-app', '1.0.0');

const openaiModule = require('openai');
if (instr === 'traceloop') {
  const { OpenAIInstrumentation } = require('@traceloop/instrumentation-openai');
  const i = new OpenAIInstrumentation({ traceContent: content });
  i.setTracerProvider(provider);
  i.manuallyInstrument(openaiModule.OpenAI);
} else {
  const { OpenAIInstrumentation } = require('@arizeai/openinference-instrumentation-openai');
  const i = new OpenAIInstrumentation({
    tracerProvider: provider,
    traceConfig: content ? {} : { hideInputs: true, hideOutputs: true },
  });
  i.manuallyInstrument(openaiModule);
}

const client = new openaiModule.OpenAI({
  apiKey: 'sk-otel-upstream-TEST',
  baseURL: upstream + '/v1',
  maxRetries: 0,
});

const tools = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'The weather in a city',
      parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    },
  },
];

// attributes of the agent and tool spans the application creates itself, in the
// conventions of the instrumentation in use
function agentAttrs() {
  return instr === 'traceloop'
    ? { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'weather-agent',
        'gen_ai.agent.description': 'Answers weather questions' }
    : { 'openinference.span.kind': 'AGENT', 'agent.name': 'weather-agent' };
}
function toolAttrs(call, result) {
  return instr === 'traceloop'
    ? { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': call.function.name,
        'gen_ai.tool.call.id': call.id, 'gen_ai.tool.call.arguments': call.function.arguments,
        'gen_ai.tool.call.result': JSON.stringify(result) }
    : { 'openinference.span.kind': 'TOOL', 'tool.name': call.function.name,
        'input.value': call.function.arguments, 'input.mime_type': 'application/json',
        'output.value': JSON.stringify(result), 'output.mime_type': 'application/json' };
}

async function main() {
  const out = { tag };
  // 1. a plain call, a trace of its own
  await tracer.startActiveSpan('plain ' + tag, { root: true }, async (span) => {
    out.plain_trace = span.spanContext().traceId;
    await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: 'You are terse. ' + tag },
        { role: 'user', content: 'What is the capital of France? ' + tag },
      ],
      temperature: 0.3,
      seed: 7,
      max_tokens: 50,
    });
    span.end();
  });
  // 2. an agent run
  await tracer.startActiveSpan('invoke_agent weather-agent', { root: true, attributes: agentAttrs() },
    async (agent) => {
      out.agent_trace = agent.spanContext().traceId;
      const messages = [{ role: 'user', content: 'What is the weather in Oslo? ' + tag }];
      const first = await client.chat.completions.create({ model: 'gpt-4o-mini', messages, tools, seed: 1 });
      const msg = first.choices[0].message;
      messages.push(msg);
      for (const call of msg.tool_calls || []) {
        const result = { city: 'Oslo', sky: 'sunny' };
        await tracer.startActiveSpan('execute_tool ' + call.function.name,
          { attributes: toolAttrs(call, result) }, async (t) => { t.end(); });
        messages.push({ role: 'tool', tool_call_id: call.id, content: JSON.stringify(result) });
      }
      await client.chat.completions.create({ model: 'gpt-4o-mini', messages, tools, seed: 1 });
      agent.end();
    });
  // 3. embeddings
  if (instr === 'openinference')
    await tracer.startActiveSpan('embed ' + tag, { root: true }, async (span) => {
      out.embed_trace = span.spanContext().traceId;
      await client.embeddings.create({ model: 'text-embedding-3-small', input: ['hello ' + tag] });
      span.end();
    });
  await provider.shutdown();
  console.log(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
void path;
void api;
