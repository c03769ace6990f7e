import { nullTranslator } from '@jupyterlab/translation';

import { EmrWorkspaceClient, IClusterList } from '../api';
import { builtIn, sourcesOf, stateText } from '../sources';
import { fakeServer, json } from './utils';

const trans = nullTranslator.load('jupyter_emr_workspace');

describe('cluster sources', () => {
  it('shows the sources the server serves, in its order, and no others', () => {
    const list: IClusterList = {
      clusters: [],
      errors: [],
      sources: [
        { type: 'local', label: 'Local', states: {}, attach_note: '' },
        { type: 'emr-eks', label: 'EMR on EKS', states: {}, attach_note: '' }
      ]
    };
    expect(sourcesOf(list, trans).map(s => s.type)).toEqual([
      'local',
      'emr-eks'
    ]);
  });

  it('falls back to the built-in sources, then to a cluster type as it is', () => {
    const list: IClusterList = {
      clusters: [
        { type: 'toy', id: 't', name: 't', state: 'HUMMING', attachable: true }
      ],
      errors: []
    };
    const shown = sourcesOf(list, trans);
    expect(shown.map(s => s.type)).toEqual([
      ...builtIn(trans).map(s => s.type),
      'toy'
    ]);
    expect(shown[shown.length - 1].label).toBe('toy');
    // no words for it anywhere: the state as it is, in lower case
    expect(stateText({ type: 'toy', state: 'HUMMING' }, trans, list)).toBe(
      'humming'
    );
  });

  it("uses a source's own words first, then EMR's", () => {
    const list: IClusterList = {
      clusters: [],
      errors: [],
      sources: [
        {
          type: 'emr-serverless',
          label: 'EMR Serverless',
          states: { STARTED: 'ready', STOPPED: 'stopped: starts when used' },
          attach_note: ''
        }
      ]
    };
    const words = (state: string) =>
      stateText({ type: 'emr-serverless', state }, trans, list);
    expect(words('STOPPED')).toBe('stopped: starts when used');
    expect(words('STARTED')).toBe('ready');
    expect(words('TERMINATED')).toBe('stopped'); // EMR's word
    // the built-in local engine keeps its words without a served table
    expect(stateText({ type: 'local', state: 'WAITING' }, trans)).toBe(
      'stopped: starts when attached'
    );
  });
});

describe('the listing', () => {
  it('keeps the sources the server serves', async () => {
    const toy = {
      type: 'toy',
      label: 'Toy clusters',
      states: { HUMMING: 'ready' },
      attach_note: 'Toys run anywhere.'
    };
    const server = fakeServer(() =>
      json(200, { clusters: [], errors: [], sources: [toy] })
    );
    const client = new EmrWorkspaceClient({ serverSettings: server.settings });
    const list = await client.listClusters();
    expect(list.sources).toEqual([toy]);
    expect(sourcesOf(list, trans)).toEqual([toy]);
  });
});
