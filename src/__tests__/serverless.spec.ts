import { attachCommand, orderRoles, roleName } from '../serverless';
import { CommandIDs } from '../tokens';

describe('execution roles in the panel', () => {
  it('asks for a role before attaching to an EMR Serverless application', () => {
    expect(attachCommand('emr-serverless')).toBe(
      'emr-workspace:attach-with-role'
    );
    expect(attachCommand('emr-ec2')).toBe(CommandIDs.attach);
    expect(attachCommand('local')).toBe(CommandIDs.attach);
  });

  it('offers the Workspace’s last role first, and only roles the user may pass', () => {
    const roles = ['arn:aws:iam::1:role/a', 'arn:aws:iam::1:role/b'];
    expect(orderRoles(roles, 'arn:aws:iam::1:role/b')).toEqual([
      'arn:aws:iam::1:role/b',
      'arn:aws:iam::1:role/a'
    ]);
    expect(orderRoles(roles, 'arn:aws:iam::1:role/gone')).toEqual(roles);
    expect(orderRoles(roles, null)).toEqual(roles);
  });

  it('names a role by the last part of its ARN', () => {
    expect(roleName('arn:aws:iam::1:role/team/analytics')).toBe('analytics');
    expect(roleName(null)).toBe('');
  });
});
