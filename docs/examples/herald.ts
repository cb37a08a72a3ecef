import { createPublisher } from '@herald/next';
import { channels } from './channels';

export const herald = createPublisher({ channels });
