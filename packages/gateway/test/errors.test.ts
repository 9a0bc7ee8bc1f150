import { GATEWAY_ERRORS } from '../src/index.js';
import { describeErrorDocs } from '../../stateline/test/support/error-docs.js';

describeErrorDocs('@stateline/gateway', GATEWAY_ERRORS);
