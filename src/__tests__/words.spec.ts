import { nullTranslator } from '@jupyterlab/translation';

import { ICluster } from '../api';
import { statusApplies } from '../status';
import { attachmentName, clusterName, clusterStateText } from '../words';

const trans = nullTranslator.load('jupyter_emr_workspace');

const local: ICluster = {
  type: 'local',
  id: 'local',
  name: 'Local Spark (this server)',
  state: 'WAITING',
  attachable: true
};

describe('cluster words', () => {
  it('names the local engine by its display name, not "local"', () => {
    expect(clusterName([local], 'local', 'local')).toBe(
      'Local Spark (this server)'
    );
    expect(
      attachmentName(
        { type: 'local', cluster_id: 'local' },
        { clusters: [local], errors: [] }
      )
    ).toBe('Local Spark (this server)');
    // The name recorded at attach time wins; an unknown cluster keeps its id.
    expect(
      attachmentName({ type: 'emr-ec2', cluster_id: 'j-1', name: 'etl' }, null)
    ).toBe('etl');
    expect(clusterName([local], 'emr-ec2', 'j-9')).toBe('j-9');
  });

  it('says ready / busy / stopped, not WAITING / RUNNING', () => {
    expect(clusterStateText({ type: 'local', state: 'RUNNING' }, trans)).toBe(
      'ready'
    );
    expect(clusterStateText({ type: 'local', state: 'WAITING' }, trans)).toBe(
      'stopped: starts when attached'
    );
    expect(clusterStateText({ type: 'emr-ec2', state: 'WAITING' }, trans)).toBe(
      'ready'
    );
    expect(clusterStateText({ type: 'emr-ec2', state: 'RUNNING' }, trans)).toBe(
      'busy'
    );
    expect(
      clusterStateText({ type: 'emr-ec2', state: 'TERMINATED' }, trans)
    ).toBe('stopped');
  });
});

describe('statusApplies', () => {
  const keeper = (mode: string, path: string | null) => ({
    state: {
      mode,
      workspace: mode === 'closed' ? null : { id: 'e-1' },
      path
    } as any,
    contains: (p: string) => !!path && (p === path || p.startsWith(path + '/'))
  });

  it("shows the open Workspace's status only for its own documents", () => {
    const open = keeper('editing', 'workspaces/e-1');
    expect(statusApplies(open, 'workspaces/e-1/a.ipynb')).toBe(true);
    expect(statusApplies(open, 'RTC:workspaces/e-1/a.ipynb')).toBe(true);
    expect(statusApplies(open, 'root.ipynb')).toBe(false);
    expect(statusApplies(open, 'workspaces/e-2/b.ipynb')).toBe(false);
    expect(statusApplies(open, null)).toBe(true); // launcher, file browser
    expect(statusApplies(keeper('closed', null), null)).toBe(false);
  });
});
