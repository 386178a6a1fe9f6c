/*
 * response.h - the JSON bodies of the HTTP API: the result of an execution and the error shape.
 *
 * Pure functions of their inputs; any thread. Each returns a malloc'ed NUL-terminated JSON
 * string the caller frees with free(), or NULL when memory ran out.
 */
#ifndef CG_RESPONSE_H
#define CG_RESPONSE_H

#include <cjson/cJSON.h>

#include "job.h"

/* {"success": false, "error": {"code", "message", "details"?}}. Takes ownership of details
 * (may be NULL). */
char *response_error(const char *code, const char *message, cJSON *details);

/* The answer for a finished job. Sets *http_status to 200 when the program ran (whatever it
 * did), else to the job's failure status with the error shape. *status_out (may be NULL) gets
 * the overall status name for logs. */
char *response_job(const job_t *job, int *http_status, const char **status_out);

/* Adds "files" (the out/ files) and "filesOmitted" (what of out/ was left out) of a finished
 * job to obj (copies), each only when not empty. */
void response_add_files(cJSON *obj, const job_t *job);

/* The overall status of a finished job that ran (see README "status"). */
cg_status_t response_overall_status(const job_t *job);

#endif
