import type { VoiceApplication } from '../../numbers/applications.repository';
import { agentTools } from '../agent-session';

const base: VoiceApplication = {
  id: 'a1',
  ownerId: 'o1',
  name: 'desk',
  greeting: null,
  systemPrompt: null,
  voice: null,
  language: 'en',
  maxDurationSeconds: null,
  recording: false,
  ringSeconds: 0,
  mediaApp: 'agent',
  promptWav: null,
  endOfTurnMs: 600,
  agentActions: ['hang_up', 'send_dtmf', 'transfer_call'],
  transferNumbers: [],
  agentToolChoice: 'auto',
};

describe('agentTools', () => {
  it('offers the allowed actions with closed argument schemas; transfer only with numbers to go to', () => {
    expect(agentTools(base).map((t) => t.name)).toEqual(['hang_up', 'send_dtmf']);
    const withTransfer = agentTools({ ...base, transferNumbers: ['+15551230000', '+15551230001'] });
    const transfer = withTransfer.find((t) => t.name === 'transfer_call');
    expect(transfer?.parameters).toEqual({
      type: 'object',
      properties: { number: { enum: ['+15551230000', '+15551230001'] } },
      required: ['number'],
      additionalProperties: false,
    });
    for (const tool of withTransfer) expect(tool.parameters).toMatchObject({ additionalProperties: false });
  });

  it('offers nothing when the application allows no action or its tool choice is none', () => {
    expect(agentTools({ ...base, agentActions: [] })).toEqual([]);
    expect(agentTools({ ...base, agentToolChoice: 'none' })).toEqual([]);
    expect(agentTools({ ...base, agentActions: ['hang_up'] }).map((t) => t.name)).toEqual(['hang_up']);
  });
});
