import { LAB_ERRORS } from '../src/errors.js';
import { describeErrorDocs } from '../../stateline/test/support/error-docs.js';

describeErrorDocs('@stateline/lab', LAB_ERRORS);
