{#- Every event with a session key belongs to a session of the sessions mart (a session's
    facts cover all its events, whatever day they landed in), as long as sessions are kept:
    events of some categories outlive the user-activity retention of their sessions. On
    window checks: the window's events, against the sessions that can hold them. -#}

with

events as (
    select * from {{ ref('events') }}
    where
        session_key is not null
        -- the day after the cutoff: a session may have begun the day before its events
        and event_date > {{ ga4_retention_cutoff('user_activity') }}
        -- the run's window itself (not the day either side: its sessions may have begun a day
        -- earlier still, and the previous night checked it)
        and {{ truffle_check_scope('event_date', days_before=-1, days_after=-1) }}
),

-- a session holding a window event began as far before the window as the window's events
-- say (their time minus their ga_session_id), at most the session span
sessions as (
    select * from {{ ref('sessions') }}
    where {{ truffle_check_scope('session_start_date', days_before=truffle_check_session_lag()) }}
),

orphans as (
    select events.event_key
    from events
    left join sessions
        on events.session_key = sessions.session_key
    where sessions.session_key is null
)

select * from orphans
