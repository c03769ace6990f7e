import { nullTranslator } from '@jupyterlab/translation';

import { ITemplate } from '../api';
import {
  backupLocation,
  clusterRequest,
  parseCollaborators,
  parseTags
} from '../dialogs';

const trans = nullTranslator.load('jupyter_emr_workspace');

describe('parseTags', () => {
  it('reads key=value pairs', () => {
    expect(parseTags('team=analytics, project = churn\nowner=a=b')).toEqual({
      team: 'analytics',
      project: 'churn',
      owner: 'a=b'
    });
    expect(parseTags('  ')).toEqual({});
  });

  it('names the entry that is not a pair', () => {
    expect(() => parseTags('team=a, oops')).toThrow('oops');
  });
});

describe('parseCollaborators', () => {
  it('makes principals of plain names', () => {
    expect(parseCollaborators('bob, group:data-eng user:carol')).toEqual([
      'user:bob',
      'group:data-eng',
      'user:carol'
    ]);
  });
});

describe('clusterRequest', () => {
  const templates: ITemplate[] = [
    {
      name: 'small',
      fields: [
        { name: 'workers', label: 'Workers', type: 'number', required: true },
        {
          name: 'release',
          label: 'Release',
          type: 'choice',
          choices: ['emr-7.1.0', 'emr-6.15.0']
        },
        { name: 'note', type: 'string', pattern: '[a-z]+' },
        { name: 'disk', label: 'Disk', type: 'number', min: 32, max: 1024 }
      ]
    }
  ];

  it('builds the request from the form, typed by the fields', () => {
    expect(
      clusterRequest(
        {
          template: 'small',
          name: ' etl ',
          parameters: { workers: '3', release: 'emr-7.1.0', note: '' }
        },
        templates,
        trans
      )
    ).toEqual({
      template: 'small',
      name: 'etl',
      parameters: { workers: 3, release: 'emr-7.1.0' }
    });
  });

  it('refuses missing, non-numeric and unknown values', () => {
    const base = { template: 'small', name: 'etl', parameters: {} };
    expect(clusterRequest(base, templates, trans)).toBe('Workers is required.');
    expect(
      clusterRequest(
        { ...base, parameters: { workers: 'many' } },
        templates,
        trans
      )
    ).toBe('Workers must be a number.');
    expect(
      clusterRequest(
        { ...base, parameters: { workers: '2', release: 'emr-5' } },
        templates,
        trans
      )
    ).toBe('Release must be one of: emr-7.1.0, emr-6.15.0.');
    expect(clusterRequest({ ...base, name: ' ' }, templates, trans)).toBe(
      'The cluster needs a name.'
    );
    expect(
      clusterRequest({ ...base, template: 'nope' }, templates, trans)
    ).toBe('Choose a template.');
  });
});

describe('backupLocation', () => {
  it("gives the Workspace's own prefix in EMR's layout, not the Studio's", () => {
    expect(backupLocation('s3://bucket/studio/', 'e-ABC')).toBe(
      's3://bucket/studio/e-ABC/'
    );
    expect(backupLocation('s3://bucket/studio', 'e-ABC')).toBe(
      's3://bucket/studio/e-ABC/'
    );
    expect(backupLocation('', 'e-ABC')).toBe('');
  });
});
