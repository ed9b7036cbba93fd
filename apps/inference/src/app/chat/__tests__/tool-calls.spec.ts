// Tool-call output parsing per model family, the streaming gate, and the deltas a streamed choice sends.
import { ChatChoiceStream, chatChoiceResult } from '../../openai/chat-choice';
import type { ChatDelta } from '../../openai/openai-responses';
import { ChatTemplateRenderer } from '../chat-template.renderer';
import {
  parseToolCalls,
  requiredToolCallsSchema,
  toolCallFamily,
  toolCallId,
  ToolCallStreamGate,
  type ToolCallFamily,
} from '../tool-calls';

const NAMES = new Set(['get_weather', 'get_time']);

describe('parseToolCalls', () => {
  it.each<[string, ToolCallFamily, string]>([
    [
      'Qwen2.5 / Hermes tags',
      'hermes',
      '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>',
    ],
    ['Mistral [TOOL_CALLS] array', 'mistral', '[TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": "Paris"}}]'],
    ['Mistral v11 name[ARGS]', 'mistral', '[TOOL_CALLS]get_weather[ARGS]{"city": "Paris"}'],
    ['Llama 3.x JSON with parameters', 'llama3', '{"name": "get_weather", "parameters": {"city": "Paris"}}'],
    ['Llama 3.x python tag', 'llama3', '<|python_tag|>{"name": "get_weather", "parameters": {"city": "Paris"}}'],
    ['generic fenced JSON', 'generic', '```json\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n```'],
    [
      'generic tool_calls object',
      'generic',
      '{"tool_calls": [{"name": "get_weather", "arguments": "{\\"city\\": \\"Paris\\"}"}]}',
    ],
  ])('reads %s', (_case, family, text) => {
    const parsed = parseToolCalls(text, family, NAMES);
    expect(parsed.calls).toEqual([{ name: 'get_weather', arguments: '{"city":"Paris"}' }]);
    expect(parsed.content).toBeNull();
  });

  it('reads several Hermes calls and keeps the text around them as content', () => {
    const text =
      'Let me check.\n<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>\n' +
      '<tool_call>{"name": "get_time", "arguments": {"zone": "CET"}}</tool_call>';
    const parsed = parseToolCalls(text, 'hermes', NAMES);
    expect(parsed.calls.map((c) => c.name)).toEqual(['get_weather', 'get_time']);
    expect(parsed.content).toBe('Let me check.');
  });

  it('reads Llama 3.x calls separated by semicolons', () => {
    const text = '{"name": "get_weather", "parameters": {"city": "Paris"}}; {"name": "get_time", "parameters": {}}';
    expect(parseToolCalls(text, 'llama3', NAMES).calls.map((c) => c.name)).toEqual(['get_weather', 'get_time']);
  });

  it.each([
    ['plain text', 'The weather in Paris is fine.'],
    ['an undeclared function', '{"name": "rm_rf", "arguments": {}}'],
    ['arguments that are not an object', '{"name": "get_weather", "arguments": [1]}'],
    ['broken JSON', '<tool_call>{"name": "get_weather", "arguments": {"city": </tool_call>'],
    ['JSON that is not a call', '{"answer": 42}'],
  ])('leaves %s as content', (_case, text) => {
    for (const family of ['hermes', 'mistral', 'llama3', 'generic'] as const) {
      expect(parseToolCalls(text, family, NAMES)).toEqual({ content: text, calls: [] });
    }
  });
});

describe('toolCallFamily', () => {
  it('tells the family from the chat template', () => {
    expect(toolCallFamily('{% if tools %}<tool_call>{% endif %}')).toBe('hermes');
    expect(toolCallFamily('[AVAILABLE_TOOLS]{{ tools }}[/AVAILABLE_TOOLS][TOOL_CALLS]')).toBe('mistral');
    expect(toolCallFamily('<|start_header_id|>{% if tools %}{% endif %}<|python_tag|>')).toBe('llama3');
    expect(toolCallFamily('<|im_start|>')).toBe('generic');
    expect(toolCallFamily(null)).toBe('generic');
  });

  it('makes OpenAI-shaped, unique call ids', () => {
    const a = toolCallId();
    expect(a).toMatch(/^call_[A-Za-z0-9]{24}$/);
    expect(toolCallId()).not.toBe(a);
  });
});

describe('ToolCallStreamGate', () => {
  const run = (family: ToolCallFamily, pieces: string[]) => {
    const gate = new ToolCallStreamGate(family);
    const out = pieces.map((p) => gate.push(p)).join('') + gate.flush();
    return { out, capturing: gate.capturingToolCall };
  };

  it('passes plain text through, holding only a possible marker start', () => {
    const gate = new ToolCallStreamGate('hermes');
    expect(gate.push('Hello ')).toBe('Hello ');
    expect(gate.push('wor<tool')).toBe('wor');
    expect(gate.push('s are fun')).toBe('<tools are fun');
    expect(gate.capturingToolCall).toBe(false);
  });

  it('stops passing text at a Hermes marker in the middle', () => {
    expect(run('hermes', ['Checking. <tool', '_call>{"name"', ': "x"}'])).toEqual({
      out: 'Checking. ',
      capturing: true,
    });
  });

  it('captures output that starts as JSON or a marker', () => {
    expect(run('llama3', ['  {"na', 'me": 1}'])).toEqual({ out: '', capturing: true });
    expect(run('mistral', ['[TOOL', '_CALLS][...]'])).toEqual({ out: '', capturing: true });
    expect(run('generic', ['`', '``json'])).toEqual({ out: '', capturing: true });
  });
});

describe('ChatChoiceStream', () => {
  const collect = (stream: ChatChoiceStream, pieces: string[], reason: 'stop' | 'length' = 'stop') => {
    const deltas: ChatDelta[] = [];
    for (const p of pieces) deltas.push(...stream.push(p));
    const end = stream.finish(reason);
    return { deltas: [...deltas, ...end.deltas], finishReason: end.finishReason };
  };

  it('streams a named function as its arguments grow, like OpenAI', () => {
    const { deltas, finishReason } = collect(new ChatChoiceStream({ kind: 'named', name: 'get_weather' }, 'generic'), [
      '{"city"',
      ': "Paris"}',
    ]);
    expect(finishReason).toBe('tool_calls');
    expect(deltas[0].tool_calls?.[0]).toEqual({
      index: 0,
      id: expect.stringMatching(/^call_/),
      type: 'function',
      function: { name: 'get_weather', arguments: '' },
    });
    expect(
      deltas
        .slice(1)
        .map((d) => d.tool_calls?.[0].function.arguments)
        .join(''),
    ).toBe('{"city": "Paris"}');
    expect(deltas.slice(1).every((d) => d.tool_calls?.[0].id === undefined)).toBe(true);
  });

  it('auto: content stays content; a call becomes one opening and one arguments delta per call', () => {
    const plain = collect(new ChatChoiceStream({ kind: 'auto', names: NAMES }, 'hermes'), ['Sunny', ' today.']);
    expect(plain).toEqual({ deltas: [{ content: 'Sunny' }, { content: ' today.' }], finishReason: 'stop' });
    const call = collect(new ChatChoiceStream({ kind: 'auto', names: NAMES }, 'hermes'), [
      '<tool_call>{"name": "get_weather", ',
      '"arguments": {"city": "Paris"}}</tool_call>',
    ]);
    expect(call.finishReason).toBe('tool_calls');
    expect(call.deltas).toHaveLength(2);
    expect(call.deltas[1]).toEqual({ tool_calls: [{ index: 0, function: { arguments: '{"city":"Paris"}' } }] });
  });

  it('auto: JSON that turns out not to be a call is sent as content at the end', () => {
    const out = collect(new ChatChoiceStream({ kind: 'auto', names: NAMES }, 'llama3'), ['{"answer"', ': 42}']);
    expect(out).toEqual({ deltas: [{ content: '{"answer": 42}' }], finishReason: 'stop' });
  });

  it('required: the forced array becomes tool calls', () => {
    const result = chatChoiceResult(
      '[{"name": "get_time", "arguments": {}}, {"name": "get_weather", "arguments": {"city": "Oslo"}}]',
      'stop',
      { kind: 'required', names: NAMES },
      'generic',
    );
    expect(result.finishReason).toBe('tool_calls');
    expect(result.content).toBeNull();
    expect(result.toolCalls.map((c) => c.function)).toEqual([
      { name: 'get_time', arguments: '{}' },
      { name: 'get_weather', arguments: '{"city":"Oslo"}' },
    ]);
  });

  it('a call cut by max_tokens finishes with length', () => {
    const out = chatChoiceResult('{"city": "Par', 'length', { kind: 'named', name: 'get_weather' }, 'generic');
    expect(out.finishReason).toBe('length');
  });
});

describe('requiredToolCallsSchema', () => {
  it('hoists each tool’s own $defs under a prefixed name', () => {
    const schema = requiredToolCallsSchema(
      [
        {
          type: 'function',
          function: {
            name: 'plan',
            parameters: {
              type: 'object',
              properties: { step: { $ref: '#/$defs/step' } },
              $defs: { step: { type: 'string' } },
            },
          },
        },
      ],
      false,
    );
    expect(schema['maxItems']).toBe(1);
    expect(schema['$defs']).toEqual({ 'plan.step': { type: 'string' } });
    expect(JSON.stringify(schema['items'])).toContain('#/$defs/plan.step');
  });
});

describe('ChatTemplateRenderer with tools', () => {
  const tools = [{ type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object' } } }];

  it('gives the tools to a template that renders them, and tool calls with object arguments', () => {
    const template =
      '{% for t in tools %}[T:{{ t.function.name }}]{% endfor %}{% for m in messages %}<{{ m.role }}>' +
      '{% if m.tool_calls %}{% for c in m.tool_calls %}CALL {{ c.function.name }} {{ c.function.arguments.city }}' +
      '{% endfor %}{% else %}{{ m.content }}{% endif %}{% if m.tool_call_id %}#{{ m.tool_call_id }}{% endif %}{% endfor %}';
    const renderer = new ChatTemplateRenderer('m', template, '<s>', '</s>');
    const rendered = renderer.render(
      [
        { role: 'user', content: 'Weather?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: { city: 'Oslo' } } },
          ],
        },
        { role: 'tool', content: '{"temp": 3}', tool_call_id: 'call_1' },
      ],
      tools,
    );
    expect(rendered.text).toBe('[T:get_weather]<user>Weather?<assistant>CALL get_weather Oslo<tool>{"temp": 3}#call_1');
    expect(rendered.segments.filter((s) => s.source === 'content').map((s) => s.text)).toEqual([
      'Weather?',
      '{"temp": 3}',
    ]);
  });

  it('puts the tools into a system message for a template that knows nothing of tools', () => {
    const renderer = new ChatTemplateRenderer('m', null, '<s>', '</s>');
    const rendered = renderer.render([{ role: 'user', content: 'Hi' }], tools);
    expect(rendered.template).toBe('fallback');
    expect(rendered.text).toContain('<|im_start|>system\nYou may call these functions');
    expect(rendered.text).toContain('"name":"get_weather"');
    // The tool list is content (no special tokens parsed in it), not template text.
    expect(rendered.segments.find((s) => s.text.includes('get_weather'))?.source).toBe('content');
  });
});

/** The tool part of Qwen2.5-Instruct's chat template, as shipped in its GGUF files. */
const QWEN25_TEMPLATE = `{%- if tools %}
    {{- '<|im_start|>system\\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
    {%- endif %}
    {{- "\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>" }}
    {%- for tool in tools %}
        {{- "\\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}\\n</tool_call><|im_end|>\\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}
    {%- else %}
        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\\n<tool_call>\\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\\n<tool_response>\\n' }}
        {{- message.content }}
        {{- '\\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
{%- endif %}
`;

describe('a real tool-calling template (Qwen2.5)', () => {
  it('renders tools, a past call with its arguments and the tool response; parses the Hermes output', () => {
    expect(toolCallFamily(QWEN25_TEMPLATE)).toBe('hermes');
    const renderer = new ChatTemplateRenderer('qwen', QWEN25_TEMPLATE, '', '<|im_end|>');
    expect(renderer.templateRendersTools).toBe(true);
    const rendered = renderer.render(
      [
        { role: 'user', content: 'Weather in Oslo?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: { city: 'Oslo' } } },
          ],
        },
        { role: 'tool', content: '{"temp": 3}', tool_call_id: 'call_1' },
      ],
      [{ type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object' } } }],
    );
    expect(rendered.template).toBe('model');
    expect(rendered.text).toContain('<tools>\n{"type": "function", "function": {"name": "get_weather"');
    expect(rendered.text).toContain(
      '<|im_start|>assistant\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call><|im_end|>',
    );
    expect(rendered.text).toContain('<|im_start|>user\n<tool_response>\n{"temp": 3}\n</tool_response><|im_end|>');
    expect(rendered.text.endsWith('<|im_start|>assistant\n')).toBe(true);
    expect(rendered.segments.filter((s) => s.source === 'content').map((s) => s.text)).toEqual([
      'Weather in Oslo?',
      '{"temp": 3}',
    ]);
    const output = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Bergen"}}\n</tool_call>';
    expect(parseToolCalls(output, 'hermes', NAMES).calls).toEqual([
      { name: 'get_weather', arguments: '{"city":"Bergen"}' },
    ]);
  });
});
