import { getHub, heraldRoutes } from '@herald/next';
import { channels } from './channels';

export const { GET, POST, OPTIONS } = heraldRoutes(() => getHub({ channels }));
