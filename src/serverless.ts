import { CommandRegistry } from '@lumino/commands';
import { IDisposable } from '@lumino/disposable';
import { InputDialog, Notification } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';

import { ClusterType, EmrWorkspaceClient, IWorkspace } from './api';
import { CommandIDs } from './tokens';

/**
 * Attach with an execution role: EMR Serverless always runs Spark as one, EMR on EC2 may
 * (runtime roles). Offers only the roles the user may pass, the Workspace's last one first,
 * then runs the attach command with it.
 */
export const ATTACH_WITH_ROLE = 'emr-workspace:attach-with-role';

/**
 * Which attach command a cluster's button runs.
 */
export function attachCommand(type: ClusterType): string {
  return type === 'emr-serverless' ? ATTACH_WITH_ROLE : CommandIDs.attach;
}

/**
 * The role's name from its ARN (`arn:aws:iam::1:role/path/name` → `name`).
 */
export function roleName(arn: string | null | undefined): string {
  return (arn ?? '').split('/').pop() ?? '';
}

/**
 * The roles offered, the Workspace's last one first.
 */
export function orderRoles(roles: string[], last?: string | null): string[] {
  return last && roles.includes(last)
    ? [last, ...roles.filter(role => role !== last)]
    : roles;
}

export function addExecutionRoleCommand(
  commands: CommandRegistry,
  client: EmrWorkspaceClient,
  workspace: () => IWorkspace | null,
  trans: TranslationBundle
): IDisposable {
  return commands.addCommand(ATTACH_WITH_ROLE, {
    describedBy: {
      args: {
        type: 'object',
        properties: {
          type: { type: 'string', enum: ['emr-serverless', 'emr-ec2'] },
          clusterId: { type: 'string' },
          clusterName: { type: 'string' }
        },
        required: ['type', 'clusterId']
      }
    },
    label: trans.__('Attach with an Execution Role…'),
    execute: async args => {
      const type = String(args.type ?? 'emr-serverless') as ClusterType;
      const clusterId = String(args.clusterId ?? '');
      // the name the panel shows (an application's id means nothing to its user)
      const clusterName = String(args.clusterName || clusterId);
      let roles: string[];
      try {
        roles = (await client.executionRoles(type)).map(role => role.arn);
      } catch (error) {
        Notification.error(
          trans.__('Could not list your execution roles: %1', String(error)),
          { autoClose: false }
        );
        return;
      }
      if (!roles.length) {
        Notification.error(
          trans.__(
            'No execution role is offered to you for %1: ask your Studio admin to offer one (c.Studio.execution_roles) and to let you pass it (iam:PassRole).',
            clusterName
          ),
          { autoClose: false }
        );
        return;
      }
      const last = workspace()?.attachment?.execution_role_arn;
      const ordered = orderRoles(roles, last);
      const result = await InputDialog.getItem({
        title: trans.__('Run Spark on %1 as', clusterName),
        label: trans.__(
          'The IAM role the Workspace’s Spark sessions act with (its data permissions):'
        ),
        items: ordered,
        current: 0,
        okLabel: trans.__('Attach')
      });
      if (!result.button.accept || !result.value) {
        return;
      }
      // The attach command follows a starting application until it is ready.
      await commands.execute(CommandIDs.attach, {
        type,
        clusterId,
        executionRoleArn: result.value
      });
    }
  });
}
