import { SHOP_ERRORS } from '../src/errors.js';
import { describeErrorDocs } from '../../../packages/stateline/test/support/error-docs.js';

describeErrorDocs('@stateline/shop', SHOP_ERRORS);
