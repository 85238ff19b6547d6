/* events.h - history event type names (Temporal's vocabulary) and size accounting. */
#ifndef SLUICE_ENGINE_EVENTS_H
#define SLUICE_ENGINE_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#define SL_EV_WF_STARTED           "WorkflowExecutionStarted"
#define SL_EV_WF_COMPLETED         "WorkflowExecutionCompleted"
#define SL_EV_WF_FAILED            "WorkflowExecutionFailed"
#define SL_EV_WFT_FAILED           "WorkflowTaskFailed"
#define SL_EV_ACTIVITY_SCHEDULED   "ActivityTaskScheduled"
#define SL_EV_ACTIVITY_STARTED     "ActivityTaskStarted"
#define SL_EV_ACTIVITY_COMPLETED   "ActivityTaskCompleted"
#define SL_EV_ACTIVITY_FAILED      "ActivityTaskFailed"
#define SL_EV_ACTIVITY_TIMED_OUT   "ActivityTaskTimedOut"
#define SL_EV_ACTIVITY_CANCEL_REQ  "ActivityTaskCancelRequested"
#define SL_EV_ACTIVITY_CANCELED    "ActivityTaskCanceled"
#define SL_EV_TIMER_STARTED        "TimerStarted"
#define SL_EV_TIMER_FIRED          "TimerFired"
#define SL_EV_TIMER_CANCELED       "TimerCanceled"
#define SL_EV_WF_SIGNALED          "WorkflowExecutionSignaled"
#define SL_EV_WF_CANCEL_REQUESTED  "WorkflowExecutionCancelRequested"
#define SL_EV_WF_CANCELED          "WorkflowExecutionCanceled"
#define SL_EV_WF_TERMINATED        "WorkflowExecutionTerminated"
#define SL_EV_WF_CONTINUED_AS_NEW  "WorkflowExecutionContinuedAsNew"
#define SL_EV_MARKER               "MarkerRecorded"
#define SL_EV_CHILD_INITIATED      "StartChildWorkflowExecutionInitiated"
#define SL_EV_CHILD_START_FAILED   "StartChildWorkflowExecutionFailed"
#define SL_EV_CHILD_COMPLETED      "ChildWorkflowExecutionCompleted"
#define SL_EV_CHILD_FAILED         "ChildWorkflowExecutionFailed"
#define SL_EV_CHILD_CANCELED       "ChildWorkflowExecutionCanceled"
#define SL_EV_CHILD_TERMINATED     "ChildWorkflowExecutionTerminated"

/* Bytes an event adds to a run's history size (attributes, type, fixed overhead). */
static inline int64_t sl__event_bytes(const char *type, size_t attrs_len)
{
    size_t n = 0;
    while (type[n])
        n++;
    return (int64_t)(attrs_len + n + 16);
}

#endif
