{#- Pitfall 8: events without analytics consent stay in events but belong to no session. -#}

select event_key
from {{ ref('events') }}
where
    {{ truffle_check_scope('event_date', otherwise="event_date >= cast('1900-01-01' as date)") }}
    and is_consent_denied
    and session_key is not null
